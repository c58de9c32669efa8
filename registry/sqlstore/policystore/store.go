// Package policystore keeps policy's state — clients, users, sessions,
// stored rules, SMART grants and sign-in counts — in the registry's
// database: policy.Store over GORM, on SQLite and PostgreSQL alike. Its
// tables are created by the store's migrations (registry/sqlstore,
// migration 8); policy itself holds no SQL.
package policystore

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/policy"
)

// DB is the registry database the tables are in (*sqlstore.Store): a pool
// for reads, and write transactions through the store's writer (SQLite has
// one). WriteDB may run fn more than once (PostgreSQL retries a transaction
// that lost a race), so fn only talks to the database.
type DB interface {
	ReadDB() *gorm.DB
	WriteDB(ctx context.Context, fn func(tx *gorm.DB) error) error
}

// Store is policy.Store over DB.
type Store struct{ db DB }

var _ policy.Store = (*Store)(nil)

// New returns the policy store over db, whose migrations have run.
func New(db DB) *Store { return &Store{db: db} }

func (s *Store) read(ctx context.Context) *gorm.DB { return s.db.ReadDB().WithContext(ctx) }

// change runs fn in a write transaction that also advances the policy
// version, so other instances reload.
func (s *Store) change(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Exec(`UPDATE policy_version SET version = version + 1 WHERE id = 1`).Error
	})
}

// Version returns the policy version.
func (s *Store) Version(ctx context.Context) (int64, error) {
	// Row, not Scan: every request reads it, and GORM's reflective Scan
	// costs more than the query.
	var v int64
	if err := s.read(ctx).Raw(`SELECT version FROM policy_version WHERE id = 1`).Row().Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// Snapshot reads the version, then the rules, clients and domain owners.
func (s *Store) Snapshot(ctx context.Context) (policy.Snapshot, error) {
	v, err := s.Version(ctx)
	if err != nil {
		return policy.Snapshot{}, err
	}
	snap := policy.Snapshot{Version: v}
	if snap.Rules, err = s.rules(ctx); err != nil {
		return policy.Snapshot{}, err
	}
	if snap.Clients, err = s.Clients(ctx); err != nil {
		return policy.Snapshot{}, err
	}
	if snap.Owners, err = owners(s.read(ctx)); err != nil {
		return policy.Snapshot{}, err
	}
	return snap, nil
}

// owners maps each owned domain to its client.
func owners(db *gorm.DB) (map[string]string, error) {
	var rows []struct{ System, Client string }
	if err := db.Raw(`SELECT system, client FROM policy_domains`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.System] = r.Client
	}
	return out, nil
}

// micro and fromMicro store times as Unix microseconds, 0 meaning never.
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// list and unlist store name lists in one column.
func list(xs []string) string { return strings.Join(xs, " ") }

func unlist(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// uniqueViolation reports whether err is a unique-key violation (the
// store's gorm.Config translates both dialects' to gorm.ErrDuplicatedKey):
// a concurrent insert won the race the check before it lost.
func uniqueViolation(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }
