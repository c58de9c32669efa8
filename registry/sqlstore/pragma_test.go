package sqlstore

import (
	"context"
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
