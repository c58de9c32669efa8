package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"idem/registry"
)

// An import finds the earlier versions of its records by source id many
// at a time (one search for a chunk of sources): a second import of the
// same 450 records of two types, from a system whose URL holds the
// characters search values escape, updates each, never duplicates; a
// source two stored records hold rejects its line by name, as a search
// for it alone would; a line without id is found by its identifier.
func TestImportLooksUpSourcesTogether(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		system := `http://odd.example/a,b|c$d\e`
		ctx := registry.WithActor(context.Background(), registry.Actor{Kind: "client", Name: "odd", System: system, Roles: []string{"source"}})
		lines := func() []*registry.ImportRecord {
			var recs []*registry.ImportRecord
			for i := range 450 {
				typ := "Patient"
				if i%3 == 2 {
					typ = "Practitioner"
				}
				body := fmt.Sprintf(`{"resourceType":%q,"id":"r%d","name":[{"family":"Fam%d","given":["G"]}]}`, typ, i, i)
				recs = append(recs, &registry.ImportRecord{Line: i + 1, Type: typ, Resource: mustDecode(t, body)})
			}
			dup := `{"resourceType":"Patient","id":"twice","name":[{"family":"Twice"}]}`
			byIdent := `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"77"}],"name":[{"family":"Ident"}]}`
			return append(recs, &registry.ImportRecord{Line: 451, Type: "Patient", Resource: mustDecode(t, dup)},
				&registry.ImportRecord{Line: 452, Type: "Patient", Resource: mustDecode(t, byIdent)})
		}
		count := func(results []*registry.ImportResult) map[string]int {
			out := map[string]int{}
			for _, r := range results {
				out[r.Outcome]++
			}
			return out
		}
		noCommit := func(context.Context, registry.Tx, int, []*registry.ImportResult) error { return nil }
		// two records hold the source of line 451 (written around the import)
		for range 2 {
			mustCreate(t, svc, `{"resourceType":"Patient","meta":{"source":"`+strings.ReplaceAll(system, `\`, `\\`)+`/Patient/twice"},"name":[{"family":"Twice"}]}`)
		}
		first, err := svc.ImportBatch(ctx, lines(), noCommit)
		if err != nil {
			t.Fatal(err)
		}
		if got := count(first); got[registry.ImportCreated] != 451 || got[registry.ImportRejected] != 1 {
			t.Fatalf("first import: %v", got)
		}
		if r := first[450]; r.Outcome != registry.ImportRejected || !strings.Contains(string(r.Problem), "line 451") || !strings.Contains(string(r.Problem), "more than one") {
			t.Errorf("line 451: %s %s", r.Outcome, r.Problem)
		}
		second, err := svc.ImportBatch(ctx, lines(), noCommit)
		if err != nil {
			t.Fatal(err)
		}
		if got := count(second); got[registry.ImportUpdated] != 451 || got[registry.ImportRejected] != 1 {
			t.Fatalf("second import: %v", got)
		}
		for i, r := range second[:451] {
			if r.ID != first[i].ID {
				t.Fatalf("line %d: updated %s, first written as %s", r.Line, r.ID, first[i].ID)
			}
		}
		for _, typ := range []string{"Patient", "Practitioner"} {
			res := search(t, svc, typ, "_summary=count")
			want := map[string]int{"Patient": 300 + 1 + 2, "Practitioner": 150}[typ]
			if res.Total != want {
				t.Errorf("%d %s stored, want %d", res.Total, typ, want)
			}
		}
	})
}
