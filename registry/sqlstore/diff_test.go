package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
)

// TestRewriteKeepsSearchRowsExact rewrites records in every way a write
// can — a value changed, kept, added or removed; in a later transaction
// or in the one that wrote it, once or several times; deleted and
// created again — and checks that each record's stored search rows are
// exactly those of its current version (diff.go writes only the
// difference), and that searches by old and new values answer so.
func TestRewriteKeepsSearchRowsExact(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		s := svc.Store.(*sqlstore.Store)
		body := func(family, given, birth, ident string, extra bool) map[string]any {
			m := mustDecode(t, patientJSON(family, given, birth, ident))
			m["id"] = "d" + ident
			if extra {
				m["telecom"] = []any{map[string]any{"system": "phone", "value": "555-" + ident}}
				m["generalPractitioner"] = []any{map[string]any{"reference": "Practitioner/gp-" + ident}}
			}
			return m
		}
		for i := 0; i < 12; i++ {
			if _, err := svc.Update(ctx, "Patient", fmt.Sprintf("d%d", i), body("Old", "Ann", "1970-01-01", fmt.Sprint(i), i%2 == 0), 0); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Write(ctx, func(tx registry.Tx) error {
			for i := 0; i < 12; i++ {
				id := fmt.Sprintf("d%d", i)
				var err error
				switch i % 4 {
				case 0: // family changed, telecom and reference dropped
					_, err = svc.UpdateTx(ctx, tx, "Patient", id, body("New", "Ann", "1970-01-01", fmt.Sprint(i), false), 0)
				case 1: // unchanged values, telecom and reference added
					_, err = svc.UpdateTx(ctx, tx, "Patient", id, body("Old", "Ann", "1970-01-01", fmt.Sprint(i), true), 0)
				case 2: // rewritten twice in the transaction
					if _, err = svc.UpdateTx(ctx, tx, "Patient", id, body("Mid", "Bea", "1971-01-01", fmt.Sprint(i), true), 0); err == nil {
						_, err = svc.UpdateTx(ctx, tx, "Patient", id, body("New", "Ann", "1972-02-02", fmt.Sprint(i), false), 0)
					}
				case 3: // deleted, and created again
					if _, err = svc.DeleteTx(ctx, tx, "Patient", id); err == nil && i != 3 {
						_, err = svc.UpdateTx(ctx, tx, "Patient", id, body("New", "Cy", "1970-01-01", fmt.Sprint(i), true), 0)
					}
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 12; i++ {
			id := fmt.Sprintf("d%d", i)
			got, err := sqlstore.SearchRows(ctx, s, "Patient", id)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if r, err := s.Read(ctx, "Patient", id); err == nil && !r.Deleted {
				cur, err := registry.DecodeStored(r)
				if err != nil {
					t.Fatal(err)
				}
				want = sqlstore.ExtractedRows("Patient", cur)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: stored search rows %v, want %v", id, got, want)
			}
		}
		for family, want := range map[string]int{"Old": 3, "New": 8, "Mid": 0} {
			_, page, err := svc.Search(ctx, "Patient", map[string][]string{"family": {family}}, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Matches) != want {
				t.Errorf("family=%s: %d records, want %d", family, len(page.Matches), want)
			}
		}
	})
}
