package policy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"idem/policy"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/policystore"
	"idem/registry/sqlstore/sqltest"
)

// testDB is the real policy store over a real registry database (never a
// mock), with a read handle for checking what is stored.
type testDB struct {
	policy.Store
	read *gorm.DB
}

func newTestDB(s *sqlstore.Store) testDB { return testDB{Store: policystore.New(s), read: s.ReadDB()} }

// eachDB runs fn on a fresh SQLite file, and on a fresh PostgreSQL schema
// when IDEM_TEST_POSTGRES holds a DSN.
func eachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) { fn(t, newTestDB(s)) })
}

// openSQLite opens a fresh store on a temp-dir SQLite file.
func openSQLite(t testing.TB) testDB {
	t.Helper()
	return newTestDB(sqltest.Open(t, sqltest.DSN(t, "sqlite")))
}

// mustOpen opens an Authorizer that does not poll unless cfg asks to.
func mustOpen(t testing.TB, db policy.Store, cfg policy.Config) *policy.Authorizer {
	t.Helper()
	if cfg.Reload == 0 {
		cfg.Reload = -1
	}
	a, err := policy.Open(context.Background(), db, cfg)
	if err != nil {
		t.Fatalf("open policy: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func mustAddClient(t testing.TB, a *policy.Authorizer, name, role string, domains ...string) string {
	t.Helper()
	tok, err := a.AddClient(context.Background(), policy.Client{Name: name, System: "https://" + name + ".example.org",
		Roles: []string{role}, Domains: domains})
	if err != nil {
		t.Fatalf("add client %s: %v", name, err)
	}
	return tok
}

func mustAuthenticate(t testing.TB, a *policy.Authorizer, token string) policy.Principal {
	t.Helper()
	p, err := a.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
