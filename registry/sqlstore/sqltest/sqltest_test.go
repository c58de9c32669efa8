package sqltest

import (
	"context"
	"testing"

	"idem/registry/sqlstore"
)

func TestForEachOpensFreshStores(t *testing.T) {
	ForEach(t, func(t *testing.T, dsn string, s *sqlstore.Store) {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("ping %s: %v", dsn, err)
		}
		if _, err := s.Read(context.Background(), "Patient", "x"); err == nil {
			t.Fatal("a fresh store holds Patient/x")
		}
	})
}
