package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// A candidate is stored but not current; applying makes it current, and
// applying an older one again (a rollback) makes that one current.
func TestModelVersions(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		_, err := s.CurrentModel(ctx)
		wantCode(t, err, registry.ENotFound)
		t0 := time.Now()
		first, err := s.SaveModel(ctx, &registry.StoredModel{Created: t0, Note: "rules", Body: []byte(`{"n":1}`), Applied: t0})
		if err != nil {
			t.Fatal(err)
		}
		cand, err := s.SaveModel(ctx, &registry.StoredModel{Created: t0, Note: "trained", Body: []byte(`{"n":2}`), Type: "Patient", Records: 42})
		if err != nil || cand != first+1 {
			t.Fatalf("candidate: version %d err %v", cand, err)
		}
		cur := mustCurrent(t, s, first)
		if cur.State != registry.ModelApplied || string(cur.Body) != `{"n":1}` {
			t.Fatalf("current %+v", cur)
		}
		m, err := s.Model(ctx, cand)
		if err != nil || m.State != registry.ModelCandidate || m.Records != 42 || m.Type != "Patient" || !m.Applied.IsZero() {
			t.Fatalf("candidate %+v %v", m, err)
		}
		if err := s.MarkModel(ctx, cand, registry.ModelApplied, t0.Add(time.Second), []byte(`{"changed":3}`)); err != nil {
			t.Fatal(err)
		}
		if cur := mustCurrent(t, s, cand); string(cur.Report) != `{"changed":3}` {
			t.Fatalf("report %q", cur.Report)
		}
		if err := s.MarkModel(ctx, first, registry.ModelApplied, t0.Add(2*time.Second), nil); err != nil {
			t.Fatal(err)
		}
		mustCurrent(t, s, first)
		list, err := s.Models(ctx, 10)
		if err != nil || len(list) != 2 || list[0].Version != cand || list[0].Body != nil || list[0].Applied.IsZero() {
			t.Fatalf("list %v %v", fmt.Sprint(list), err)
		}
		wantCode(t, s.MarkModel(ctx, cand+10, registry.ModelFailed, time.Time{}, nil), registry.ENotFound)
		_, err = s.Model(ctx, cand+10)
		wantCode(t, err, registry.ENotFound)
	})
}

func mustCurrent(t *testing.T, s *sqlstore.Store, want int64) *registry.StoredModel {
	t.Helper()
	m, err := s.CurrentModel(context.Background())
	if err != nil || m.Version != want {
		t.Fatalf("current model: %+v %v, want version %d", m, err, want)
	}
	return m
}
