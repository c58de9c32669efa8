package policy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"idem/policy"
)

// testDB is policy.DB over plain GORM: the store's adapter is app's
// business, and policy must not import the store.
type testDB struct{ read, write *gorm.DB }

func (d testDB) Read() *gorm.DB { return d.read }

func (d testDB) Write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return d.write.WithContext(ctx).Transaction(fn)
}

var gormConfig = &gorm.Config{Logger: logger.Default.LogMode(logger.Silent), TranslateError: true}

// eachDB runs fn on a fresh SQLite file, and on a fresh PostgreSQL schema
// when IDEM_TEST_POSTGRES holds a DSN.
func eachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("IDEM_TEST_POSTGRES") == "" {
			t.Skip("IDEM_TEST_POSTGRES is not set")
		}
		fn(t, openPostgres(t))
	})
}

// openSQLite opens a temp-dir SQLite file as the store does: one write
// connection with immediate transactions beside a pool of readers.
func openSQLite(t testing.TB) testDB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "policy.db") + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on"
	w, err := gorm.Open(sqlite.Open(dsn+"&_txlock=immediate"), gormConfig)
	if err != nil {
		t.Fatal(err)
	}
	wsql, _ := w.DB()
	wsql.SetMaxOpenConns(1)
	r, err := gorm.Open(sqlite.Open(dsn), gormConfig)
	if err != nil {
		t.Fatal(err)
	}
	rsql, _ := r.DB()
	t.Cleanup(func() { rsql.Close(); wsql.Close() })
	return testDB{read: r, write: w}
}

// openPostgres opens a new schema of the IDEM_TEST_POSTGRES database,
// dropped when the test ends, so parallel test packages never meet.
func openPostgres(t testing.TB) testDB {
	t.Helper()
	base := os.Getenv("IDEM_TEST_POSTGRES")
	admin, err := gorm.Open(postgres.Open(base), gormConfig)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "policy_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	db, err := gorm.Open(postgres.Open(base+sep+"search_path="+schema), gormConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqldb, err := db.DB(); err == nil {
			sqldb.Close()
		}
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqldb, err := admin.DB(); err == nil {
			sqldb.Close()
		}
	})
	return testDB{read: db, write: db}
}

// mustOpen opens an Authorizer that does not poll unless cfg asks to.
func mustOpen(t testing.TB, db policy.DB, cfg policy.Config) *policy.Authorizer {
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
