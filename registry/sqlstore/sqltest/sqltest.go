// Package sqltest opens real, isolated databases for tests: a fresh SQLite
// file in a temporary directory always, and a fresh PostgreSQL schema when
// IDEM_TEST_POSTGRES holds a DSN.
package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"idem/registry/sqlstore"
)

// PostgresEnv names the variable that holds the PostgreSQL test DSN.
const PostgresEnv = "IDEM_TEST_POSTGRES"

// ForEach runs fn as a subtest once per available database ("sqlite",
// "postgres"), each with a fresh, migrated store.
func ForEach(t *testing.T, fn func(t *testing.T, dsn string, s *sqlstore.Store)) {
	t.Helper()
	for _, name := range Kinds() {
		t.Run(name, func(t *testing.T) {
			dsn := DSN(t, name)
			fn(t, dsn, Open(t, dsn))
		})
	}
}

// Kinds lists the databases tests can use here.
func Kinds() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// DSN returns a fresh database of the given kind: a SQLite file path in a
// temporary directory, or a postgres DSN whose search_path is a new schema
// (dropped when the test ends).
func DSN(t testing.TB, kind string) string {
	t.Helper()
	if kind == "sqlite" {
		return filepath.Join(t.TempDir(), "idem.db")
	}
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " is not set")
	}
	schema := "t_" + randomHex(8)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	sqldb, _ := admin.DB()
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		sqldb.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// Open opens the store at dsn and closes it when the test ends.
func Open(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
