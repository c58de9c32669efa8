package linkage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// TestSimulationReadAheadSameAsInTurn: a dry run whose records are read
// ahead by readers beside the simulation lists exactly the changes of one
// that reads each record in its turn; and a simulation stopped midway (its
// context cancelled) ends with the context's error instead of waiting on
// readers that were stopped.
func TestSimulationReadAheadSameAsInTurn(t *testing.T) {
	recs, _ := generatedPatients(t, 150, seed.ProfileMany)
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openCalibrated(t, s, CalibrateConfig{})
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		loadBundles(t, ctx, k.svc, recs)
		cand, err := k.cal.Train(ctx, registry.TypePatient, "test")
		if err != nil {
			t.Fatal(err)
		}
		dry := func(readers int) *Rematch {
			t.Helper()
			defer func(n int) { simulateReaders = n }(simulateReaders)
			simulateReaders = readers
			out, err := k.cal.DryRun(ctx, cand.Version)
			if err != nil || len(out) != 1 {
				t.Fatalf("dry run with %d readers: %v %v", readers, out, err)
			}
			return out[0]
		}
		inTurn, ahead := dry(0), dry(3)
		if inTurn.Changed() == 0 {
			t.Fatal("the trained model changes nothing: the comparison says nothing")
		}
		if inTurn.Records != ahead.Records || !slices.EqualFunc(inTurn.Changes, ahead.Changes, sameChange) {
			t.Fatalf("read ahead: %d changes %v; in turn: %d changes %v", ahead.Changed(), ahead.Counts, inTurn.Changed(), inTurn.Counts)
		}

		stop, cancel := context.WithCancel(ctx)
		_, err = k.l.PlanRematchProgress(stop, registry.TypePatient, k.models.Current(ctx), func(done, _ int) error {
			cancel() // at the first record
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled simulation: %v, want context.Canceled", err)
		}
	})
}

// A simulation's plans keep the links and nothing else: committing one in
// a simulation's context builds no golden record (the memTx holds none
// afterwards), where the same plan outside one builds it. A simulation of a
// whole type used to keep every golden record it built to its end.
func TestSimulatedPlanKeepsOnlyLinks(t *testing.T) {
	recs, _ := generatedPatients(t, 10, seed.ProfileDefault)
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openCalibrated(t, s, CalibrateConfig{})
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		loadBundles(t, ctx, k.svc, recs[:1])
		match, _ := goldenOf(t, s)
		var src string
		for ref := range match {
			src = ref
		}
		typ, id, _ := strings.Cut(src, "/")
		for _, sim := range []bool{true, false} {
			mtx, err := newMemTx(ctx, s, typ, nil)
			if err != nil {
				t.Fatal(err)
			}
			// as a simulation starts: the record's automatic link dropped
			old, err := mtx.Links(ctx, registry.LinkFilter{SourceType: typ, SourceID: id})
			if err != nil || len(old) != 1 {
				t.Fatalf("links of %s: %v %v", src, old, err)
			}
			if err := mtx.DeleteLink(ctx, old[0], nil); err != nil {
				t.Fatal(err)
			}
			p := k.l.newPlan(mtx, "link", "test", "")
			self := &registry.Link{SourceType: typ, SourceID: id, MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto}
			golden := p.newGolden(registry.TypePerson, self)
			p.put(self)
			cctx := ctx
			if sim {
				cctx = withSimulation(ctx)
			}
			if err := p.commit(cctx); err != nil {
				t.Fatal(err)
			}
			links, err := mtx.Links(ctx, registry.LinkFilter{SourceType: typ, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
			if err != nil || len(links) != 1 || links[0].Golden() != golden {
				t.Fatalf("simulated %v: links %v %v, want one to %s", sim, links, err, golden)
			}
			if built := mtx.put[golden] != nil; built == sim {
				t.Errorf("simulated %v: golden record built %v", sim, built)
			}
		}
	})
}
