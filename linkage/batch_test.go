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
// checks that the linker groups them into the same golden records, with
// the same content, and that a Bundle writes each Person it touched once.
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
	const perBundle = 60
	bundleOf := map[string]int{} // meta.source → the Bundle it is posted in
	for i, r := range recs {
		bundleOf[registry.AsString(registry.AsObject(r["meta"])["source"])] = i / perBundle
	}
	var persons [2]map[string]goldenView
	load := func(bundled bool) [][]string {
		s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		svc := newLinkedService(s)
		if bundled {
			for start := 0; start < len(recs); start += perBundle {
				var entries []any
				for _, r := range recs[start:min(start+perBundle, len(recs))] {
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
		if bundled {
			persons[1] = goldenViews(t, s)
		} else {
			persons[0] = goldenViews(t, s)
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
	// A Bundle rebuilds each golden record it touched once, when it
	// settles, to the content rebuilding it at each record gives.
	once := 0
	for sources, want := range persons[0] {
		got, ok := persons[1][sources]
		if !ok {
			continue // reported above
		}
		if got.content != want.content {
			t.Errorf("Person of %s\n one at a time: %s\n in Bundles:    %s", sources, want.content, got.content)
		}
		srcs := strings.Split(sources, " ")
		if len(srcs) < 2 || !slices.ContainsFunc(srcs, func(s string) bool { return bundleOf[s] != bundleOf[srcs[0]] }) {
			if len(srcs) > 1 {
				once++
			}
			if got.version != "1" {
				t.Errorf("Person of %s, whose records came in one Bundle: version %s, want 1", sources, got.version)
			}
		}
	}
	if once == 0 {
		t.Fatal("no Person has several records of one Bundle: the test shows nothing")
	}
}

// goldenView is a golden record's content without what differs from one
// database to another (ids, versions, the records' references), and its
// version.
type goldenView struct{ content, version string }

// goldenViews returns the Persons by the meta.source of their records,
// sorted and joined by spaces.
func goldenViews(t *testing.T, s *sqlstore.Store) map[string]goldenView {
	t.Helper()
	ctx := context.Background()
	page, err := s.QueryLinks(ctx, registry.LinkFilter{MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{}
	for _, k := range page.Links {
		r, err := s.Read(ctx, k.SourceType, k.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := registry.DecodeStored(r)
		sources[k.Golden()] = append(sources[k.Golden()], registry.AsString(registry.AsObject(body["meta"])["source"]))
	}
	out := map[string]goldenView{}
	for g, srcs := range sources {
		gt, gid, _ := strings.Cut(g, "/")
		r, err := s.Read(ctx, gt, gid)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := registry.DecodeStored(r)
		var ids []any
		for _, id := range asArray(body["identifier"]) {
			if registry.AsString(registry.AsObject(id)["system"]) != PersonIDSystem {
				ids = append(ids, id)
			}
		}
		view := map[string]any{"identifier": ids, "links": len(asArray(body["link"]))}
		for _, f := range []string{"active", "name", "gender", "birthDate", "address", "telecom"} {
			view[f] = body[f]
		}
		slices.Sort(srcs)
		out[strings.Join(srcs, " ")] = goldenView{string(fhir.MarshalResource(withoutExtensions(view).(map[string]any))), registry.AsString(registry.AsObject(body["meta"])["versionId"])}
	}
	return out
}

// withoutExtensions copies v without its extensions (a golden value's
// extension names the record it came from, by id).
func withoutExtensions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := map[string]any{}
		for k, e := range x {
			if k != "extension" {
				c[k] = withoutExtensions(e)
			}
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = withoutExtensions(e)
		}
		return c
	}
	return v
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

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}
