package dbclock_test

import (
	"os"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"idem/registry/dbclock"
	"idem/registry/sqlstore/sqltest"
)

// On SQLite the lease clock is the caller's, exactly.
func TestLocalClock(t *testing.T) {
	local := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	got, err := dbclock.Micros(nil, false, func() time.Time { return local })
	if err != nil || got != local.UnixMicro() {
		t.Fatalf("Micros = %d, %v; want %d", got, err, local.UnixMicro())
	}
}

// On PostgreSQL it is the server's, whatever the caller's clock says: an
// instance three minutes off reads the time every other instance reads.
func TestServerClock(t *testing.T) {
	if os.Getenv(sqltest.PostgresEnv) == "" {
		t.Skip(sqltest.PostgresEnv + " is not set")
	}
	db, err := gorm.Open(postgres.Open(os.Getenv(sqltest.PostgresEnv)), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatal(err)
	}
	if sqldb, err := db.DB(); err == nil {
		defer sqldb.Close()
	}
	for _, skew := range []time.Duration{-3 * time.Minute, 3 * time.Minute} {
		before := time.Now()
		got, err := dbclock.Micros(db, true, func() time.Time { return time.Now().Add(skew) })
		if err != nil {
			t.Fatal(err)
		}
		// The server runs on this machine in the test setup (.ci/run): its
		// clock is ours, within the round trip and a margin.
		if d := time.UnixMicro(got).Sub(before); d < -2*time.Second || d > 5*time.Second {
			t.Errorf("with the local clock %v off: the server's time is %v from ours, want the server's own", skew, d)
		}
	}
}
