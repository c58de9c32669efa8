package linkage

import (
	"context"
	"slices"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// A simulation's blocking in memory ranks as the store does: with every
// record before the one asking (its place past the last), each record's
// candidates are the store's, in the store's order, with the same capped
// keys and skipped count, at the model's cap and at a cap small enough
// that common keys are capped and the rarest-first reading stops early.
// With a record's own place, its candidates are the records before it.
func TestSimIndexRanksAsTheStore(t *testing.T) {
	recs, _ := generatedPatients(t, 200, "")
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openCalibrated(t, s, CalibrateConfig{})
		for _, r := range recs {
			if _, err := k.svc.Create(ctx, registry.TypePatient, clone(r), ""); err != nil {
				t.Fatal(err)
			}
		}
		model := k.models.Current(ctx)
		ids, err := k.l.storedIDs(ctx, registry.TypePatient)
		if err != nil {
			t.Fatal(err)
		}
		x, err := buildSimIndex(ctx, s, registry.TypePatient, model, ids)
		if err != nil {
			t.Fatal(err)
		}
		ref := func(set *registry.CandidateSet) []string {
			var out []string
			for _, r := range set.Found {
				out = append(out, r.ID)
			}
			return out
		}
		capped, before := 0, 0
		for _, keyCap := range []int{model.KeyCap(registry.TypePatient), 6} {
			for place, id := range ids {
				q := registry.CandidateQuery{Keys: x.recs[place].keys, KeyCap: keyCap, Max: model.MaxCandidates(registry.TypePatient)}
				want, err := s.Candidates(ctx, registry.TypePatient, q)
				if err != nil {
					t.Fatal(err)
				}
				got := x.candidates(q, int32(len(ids)))
				if !slices.Equal(ref(got), ref(want)) || !slices.Equal(got.Capped, want.Capped) || got.Skipped != want.Skipped {
					t.Fatalf("cap %d, %s: in memory %v capped %v skipped %d; the store %v capped %v skipped %d",
						keyCap, id, ref(got), got.Capped, got.Skipped, ref(want), want.Capped, want.Skipped)
				}
				capped += len(got.Capped)
				for _, r := range x.candidates(q, int32(place)).Found {
					if i := slices.Index(ids, r.ID); i >= place {
						t.Fatalf("%s (place %d) has %s (place %d) as a candidate", id, place, r.ID, i)
					}
					before++
				}
			}
		}
		if capped == 0 || before == 0 {
			t.Fatalf("the test capped %d keys and found %d earlier candidates: it checks nothing", capped, before)
		}
	})
}
