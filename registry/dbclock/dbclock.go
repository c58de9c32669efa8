// Package dbclock is the clock that leases shared by several instances of
// idem are set and compared in. On PostgreSQL it is the database server's
// clock, which every instance sharing the database reads alike: with each
// instance's own, one whose clock is ahead takes over leases still running
// elsewhere (and repeats their work), and one whose clock is behind keeps
// the others away long after it died. On SQLite (one machine, one process
// writing) it is the caller's clock.
package dbclock

import (
	"time"

	"gorm.io/gorm"
)

// Micros returns the time leases are set and compared in, in Unix
// microseconds: the database server's clock, read through db, when
// postgres is set; otherwise local's.
func Micros(db *gorm.DB, postgres bool, local func() time.Time) (int64, error) {
	if !postgres {
		return local().UnixMicro(), nil
	}
	var n int64
	err := db.Raw(`SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT`).Scan(&n).Error
	return n, err
}
