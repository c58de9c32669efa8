package linkage

import (
	"context"
	"strings"
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/seed"
)

// storeLocationsUnlinked stores the Locations of a generated network as a
// calibrated first load does (unlinked) and returns their ids and entities.
func storeLocationsUnlinked(t *testing.T, ctx context.Context, k *calibrated, profile string, sites int) ([]string, []string) {
	t.Helper()
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations, cfg.Profile = 7, 0, 0, sites, profile
	svc := &registry.Service{Store: k.s, Writer: k.svc.Writer, Steps: registry.Steps{Link: k.l.Deferred()}}
	var ids, truth []string
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypeLocation {
			return nil
		}
		out, err := svc.Create(ctx, registry.TypeLocation, clone(r.Resource), "")
		if err == nil {
			ids, truth = append(ids, out.Resource.ID), append(truth, r.Entity)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, truth
}

// linkedPairs scores the Linkages built over ids against the entities:
// pairs linked, and of them true, and the true pairs.
func linkedPairs(t *testing.T, ctx context.Context, s *sqlstore.Store, ids, truth []string) (linked, correct, true_ int) {
	t.Helper()
	page, err := s.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypeLocation, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		t.Fatal(err)
	}
	golden := map[string]string{}
	for _, l := range page.Links {
		golden[l.SourceID] = l.Golden()
	}
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			same := truth[i] == truth[j]
			if same {
				true_++
			}
			if g := golden[ids[i]]; g != "" && g == golden[ids[j]] {
				linked++
				if same {
					correct++
				}
			}
		}
	}
	return linked, correct, true_
}

// A calibrated first load of Locations trains a Location model on them and
// links them under it. On sites with many records each, EM over the pairs
// sharing a name word took their shared type and town for the match class
// and the model trained linked almost nothing; that rule is now left out
// (the stored report says why) and the model links better than the rules.
func TestCalibratedLoadTrainsLocations(t *testing.T) {
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	s, err := sqlstore.Open(ctx, t.TempDir()+"/idem.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := openCalibrated(t, s, CalibrateConfig{AutoTrain: true})
	ids, truth := storeLocationsUnlinked(t, ctx, k, seed.ProfileMany, 300)
	if err := k.cal.Loaded(ctx, []string{registry.TypeLocation}, true); err != nil {
		t.Fatal(err)
	}
	sm, err := s.CurrentModel(ctx)
	if err != nil || sm.Type != registry.TypeLocation || !strings.Contains(sm.Note, "calibrated first load") {
		t.Fatalf("model in use after the load: %+v %v", sm, err)
	}
	_, rep, err := k.cal.Model(ctx, sm.Version)
	if err != nil || rep.Training == nil {
		t.Fatalf("report %+v %v", rep, err)
	}
	rejected := ""
	for _, r := range rep.Training.Rules {
		if r.Rejected != "" {
			rejected += r.Rule + ": " + r.Rejected + "\n"
		}
	}
	if rejected == "" {
		t.Errorf("no rule left out:\n%s", rep.Training)
	}
	linked, correct, all := linkedPairs(t, ctx, s, ids, truth)
	precision, recall := float64(correct)/float64(max(linked, 1)), float64(correct)/float64(all)
	if precision < 0.99 || recall < 0.8 {
		t.Errorf("linked under the trained model: precision %.4f recall %.4f (%d pairs linked, %d true)\n%s", precision, recall, linked, all, rep.Training)
	}
}

// A Location training that is not sound (here: no rule's EM converges) is
// kept as a failed model saying why, never applied: the load is linked
// under the rules.
func TestUnsoundLocationTrainingNotApplied(t *testing.T) {
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	s, err := sqlstore.Open(ctx, t.TempDir()+"/idem.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := openCalibrated(t, s, CalibrateConfig{AutoTrain: true, Train: matching.TrainOptions{MaxIterations: 1}})
	ids, truth := storeLocationsUnlinked(t, ctx, k, seed.ProfileDefault, 100)
	if err := k.cal.Loaded(ctx, []string{registry.TypeLocation}, true); err != nil {
		t.Fatal(err)
	}
	if sm, err := s.CurrentModel(ctx); registry.ErrorCode(err) != registry.ENotFound {
		t.Fatalf("a model is in use: %+v %v", sm, err)
	}
	list, err := s.Models(ctx, 10)
	if err != nil || len(list) != 1 || list[0].State != registry.ModelFailed || list[0].Type != registry.TypeLocation {
		t.Fatalf("model history %+v %v", list, err)
	}
	_, rep, err := k.cal.Model(ctx, list[0].Version)
	if err != nil || !strings.Contains(rep.Error, "did not converge") {
		t.Fatalf("failed model's report: %q %v", rep.Error, err)
	}
	if linked, _, _ := linkedPairs(t, ctx, s, ids, truth); linked == 0 {
		t.Error("the load was not linked under the rules")
	}
}
