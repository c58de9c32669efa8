package linkage

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/seed"
)

// TestBundleLinksAsOneAtATime loads the same generated records twice into
// fresh databases — one create at a time, and as transaction Bundles in
// which records of one person meet unflushed in the same transaction — and
// checks that the linker groups them into the same golden records.
func TestBundleLinksAsOneAtATime(t *testing.T) {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons = 11, 150
	var recs []map[string]any
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type == registry.TypePatient {
			recs = append(recs, r.Resource)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	load := func(bundled bool) [][]string {
		s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		svc := newLinkedService(s)
		if bundled {
			for start := 0; start < len(recs); start += 60 {
				var entries []any
				for _, r := range recs[start:min(start+60, len(recs))] {
					entries = append(entries, map[string]any{"resource": clone(r), "request": map[string]any{"method": "POST", "url": "Patient"}})
				}
				if _, err := svc.Bundle(ctx, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}, registry.BundleOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			for _, r := range recs {
				if _, err := svc.Create(ctx, "Patient", clone(r), ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		return goldenGroups(t, s)
	}
	one, bundled := load(false), load(true)
	if len(one) < 50 {
		t.Fatalf("only %d golden records: the data links too little to compare", len(one))
	}
	if !slices.EqualFunc(one, bundled, slices.Equal) {
		t.Errorf("one at a time: %d golden records; in Bundles: %d; they differ", len(one), len(bundled))
		for i := range min(len(one), len(bundled)) {
			if !slices.Equal(one[i], bundled[i]) {
				t.Fatalf("first difference: %v vs %v", one[i], bundled[i])
			}
		}
	}
}

// goldenGroups returns the source records (by meta.source) of each Person
// with more than one record, each group sorted, the groups sorted.
func goldenGroups(t *testing.T, s *sqlstore.Store) [][]string {
	t.Helper()
	page, err := s.QueryLinks(context.Background(), registry.LinkFilter{MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		t.Fatal(err)
	}
	byGolden := map[string][]string{}
	for _, k := range page.Links {
		r, err := s.Read(context.Background(), k.SourceType, k.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := registry.DecodeStored(r)
		src := registry.AsString(registry.AsObject(body["meta"])["source"])
		byGolden[k.Golden()] = append(byGolden[k.Golden()], src)
	}
	var out [][]string
	for _, g := range byGolden {
		if len(g) > 1 {
			slices.Sort(g)
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// clone deep-copies a generated resource (the service changes what it stores).
func clone(m map[string]any) map[string]any {
	b := fhir.MarshalResource(m)
	c, err := fhir.DecodeJSON(b)
	if err != nil {
		panic(err)
	}
	return c
}
