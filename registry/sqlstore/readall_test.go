package sqlstore_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// ReadAll answers as Read does for each id: this transaction's writes
// (an update, a deletion, a create) over the committed versions, ids not
// known absent, an id asked twice answered once.
func TestReadAllSeesTransaction(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := service(s)
		a := mustCreate(t, svc, patientJSON("Ames", "Ann", "1980-01-01", "a1"))
		b := mustCreate(t, svc, patientJSON("Bell", "Bo", "1981-01-01", "b1"))
		c := mustCreate(t, svc, patientJSON("Cole", "Cy", "1982-01-01", "c1"))
		mustLinkWrite(t, s, func(tx registry.Tx) error {
			if _, err := svc.UpdateTx(ctx, tx, "Patient", b.ID, mustDecode(t, patientJSON("Bell", "Bea", "1981-01-01", "b1")), 0); err != nil {
				return err
			}
			if _, err := svc.DeleteTx(ctx, tx, "Patient", c.ID); err != nil {
				return err
			}
			if _, err := svc.CreateTx(ctx, tx, "Patient", "fresh", mustDecode(t, patientJSON("Dunn", "Di", "1983-01-01", "d1")), ""); err != nil {
				return err
			}
			ids := []string{a.ID, b.ID, c.ID, "fresh", "nobody", a.ID}
			got, err := tx.ReadAll(ctx, "Patient", ids)
			if err != nil {
				return err
			}
			if len(got) != 4 {
				t.Errorf("ReadAll answered %d records, want 4: %v", len(got), slices.Collect(maps.Keys(got)))
			}
			for _, id := range ids {
				one, err := tx.Read(ctx, "Patient", id)
				all, ok := got[id]
				if registry.ErrorCode(err) == registry.ENotFound {
					if ok {
						t.Errorf("%s: Read finds nothing, ReadAll %+v", id, all)
					}
					continue
				}
				if err != nil {
					return err
				}
				if !ok || all.VersionID != one.VersionID || all.Deleted != one.Deleted || string(all.Body) != string(one.Body) {
					t.Errorf("%s: ReadAll %+v, Read %+v", id, all, one)
				}
			}
			if got[b.ID].VersionID != 2 || !got[c.ID].Deleted {
				t.Errorf("the transaction's update and deletion: %+v %+v", got[b.ID], got[c.ID])
			}
			return nil
		})
	})
}

// The golden records' link sets LoadGoldenLinks reads stay current with
// the transaction's link writes after it, as those Links reads itself.
func TestLoadGoldenLinksFollowsWrites(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		op := mustOp(t, s, "create-link", linkT0)
		mustPutLinks(t, s, op, personLink("g1", "p1", registry.MatchResultMatch, 0.9, linkT0),
			personLink("g1", "p2", registry.MatchResultPossible, 0.6, linkT0), personLink("g2", "p3", registry.MatchResultMatch, 0.9, linkT0))
		mustLinkWrite(t, s, func(tx registry.Tx) error {
			if err := tx.LoadGoldenLinks(ctx, "Person", []string{"g1", "g2", "g3"}); err != nil {
				return err
			}
			if err := tx.PutLink(ctx, personLink("g2", "p2", registry.MatchResultMatch, 0.95, linkT0), op); err != nil {
				return err
			}
			if err := tx.DeleteLink(ctx, personLink("g1", "p2", "", 0, linkT0), op); err != nil {
				return err
			}
			if err := tx.PutLink(ctx, personLink("g3", "p4", registry.MatchResultMatch, 0.95, linkT0), op); err != nil {
				return err
			}
			for g, want := range map[string][]string{"g1": {"p1"}, "g2": {"p3", "p2"}, "g3": {"p4"}} {
				links, err := tx.Links(ctx, registry.LinkFilter{GoldenType: "Person", GoldenID: g})
				if err != nil {
					return err
				}
				if got := sourceIDs(links); !slices.Equal(got, want) {
					t.Errorf("%s: links %v, want %v", g, got, want)
				}
			}
			return nil
		})
		// and the store holds the same
		page, err := s.QueryLinks(ctx, registry.LinkFilter{GoldenType: "Person", GoldenID: "g2"})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(sourceIDs(page.Links))); !slices.Equal(got, []string{"p2", "p3"}) {
			t.Errorf("committed g2: %v", got)
		}
	})
}
