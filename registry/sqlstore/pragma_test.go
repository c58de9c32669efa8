package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestConnectionCaches checks that the writer and the readers get the
// page caches meant for them.
func TestConnectionCaches(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var w, r int
	if err := s.write.Raw("PRAGMA cache_size").Scan(&w).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.read.Raw("PRAGMA cache_size").Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	if w != -131072 || r != -16384 {
		t.Fatalf("cache_size writer %d, reader %d", w, r)
	}
}

// TestPathWithURICharacters: a database path whose directories hold '#',
// '?' or '%' names that file, not one cut short where a URI would end.
func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sqlite#01", "a?b", "100%")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "idem.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CountResources(context.Background(), "Patient"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not where it was asked for: %v", err)
	}
}
