package linkage

import (
	"context"
	"fmt"
	"testing"

	"idem/registry"
)

// totalsStore records, for each search, whether it asked for a total.
type totalsStore struct {
	Store
	totals []bool
}

func (s *totalsStore) Search(ctx context.Context, q *registry.Query) (*registry.SearchResult, error) {
	s.totals = append(s.totals, !q.NoTotal)
	return s.Store.Search(ctx, q)
}

// TestRematchCountsOnce: a re-match counts the records it will match on its
// first page only; counting them again on each page of 200 cost more, at a
// million records, than re-matching the page's first thirty.
func TestRematchCountsOnce(t *testing.T) {
	s, svc, m, _ := open(t)
	ctx := context.Background()
	err := s.Write(ctx, func(tx registry.Tx) error {
		for i := range 450 {
			res := map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprintf("Family%d", i), "given": []any{"Ann"}}},
				"birthDate": fmt.Sprintf("19%02d-01-01", i%100)}
			if _, err := svc.Writer.Create(ctx, tx, registry.TypePatient, svc.Writer.NewResourceID(), res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := &totalsStore{Store: s}
	l := NewLinker(st, svc.Writer, m, LinkerConfig{}, quiet)
	status, err := l.Rematch(ctx, registry.TypePatient, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if status.Total != 450 || status.Done != 450 {
		t.Errorf("total %d, done %d: want 450 and 450", status.Total, status.Done)
	}
	if want := []bool{true, false, false}; fmt.Sprint(st.totals) != fmt.Sprint(want) {
		t.Errorf("searches asking for a total: %v, want %v", st.totals, want)
	}
}
