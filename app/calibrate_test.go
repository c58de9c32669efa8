package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/bulk"
	"idem/seed"
)

// groupsBySource returns the meta.source of the Patients of each golden
// record, each group sorted, the groups sorted.
func groupsBySource(t *testing.T, o *opened) [][]string {
	t.Helper()
	ctx := context.Background()
	page, err := o.store.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypePatient, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		t.Fatal(err)
	}
	byGolden := map[string][]string{}
	for _, k := range page.Links {
		r, err := o.store.Read(ctx, k.SourceType, k.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := registry.DecodeStored(r)
		src, _ := registry.AsObject(body["meta"])["source"].(string)
		byGolden[k.Golden()] = append(byGolden[k.Golden()], src)
	}
	var out [][]string
	for _, g := range byGolden {
		sort.Strings(g)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// A bulk load into a new registry (the rules' untrained model) stores its
// records unlinked, trains a model on them and links them under it: every
// record is linked, the model is the applied one, and the Persons are
// those that linking as it goes under that model builds.
func TestCalibratedFirstLoad(t *testing.T) {
	sc := seed.DefaultConfig()
	sc.Seed, sc.Persons, sc.Practitioners, sc.Locations = 3, 200, 0, 0
	var lines bytes.Buffer
	var resources []map[string]any
	if err := seed.Generate(sc, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		resources = append(resources, r.Resource)
		b, err := json.Marshal(r.Resource)
		lines.Write(append(b, '\n'))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	openAt := func(autoTrain bool) *opened {
		cfg := DefaultConfig()
		cfg.DB, cfg.AutoTrain = filepath.Join(t.TempDir(), "idem.db"), autoTrain
		o, err := open(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.close() })
		return o
	}

	o := openAt(true)
	job, err := o.bulk.Submit(ctx, registry.SystemActor("test"), &lines, bulk.ImportOptions{Request: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.bulk.Work(ctx, job.ID, nil); err != nil {
		t.Fatal(err)
	}
	if job, err = o.bulk.Job(ctx, job.ID); err != nil || job.Status != registry.JobDone || !strings.Contains(string(job.Params), `"deferred":true`) {
		t.Fatalf("job %+v %v", job, err)
	}
	model, err := o.store.CurrentModel(ctx)
	if err != nil || model.Type != registry.TypePatient || !strings.Contains(model.Note, "calibrated first load") {
		t.Fatalf("model in use after the load: %+v %v", model, err)
	}
	if got := o.models.Current(ctx).Version; got == o.models.Fallback().Version {
		t.Fatal("the load is linked under the untrained rules")
	}
	page, err := o.store.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypePatient, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil || page.Total != len(resources) {
		t.Fatalf("%d of %d Patients linked (%v)", page.Total, len(resources), err)
	}
	calibrated := groupsBySource(t, o)

	// The same records linked as they come, under the same model.
	live := openAt(false)
	if _, err := live.store.SaveModel(ctx, &registry.StoredModel{Created: time.Now(), Applied: time.Now(), Note: "copy", Body: model.Body}); err != nil {
		t.Fatal(err)
	}
	for _, r := range resources {
		if _, err := live.svc.Create(ctx, registry.TypePatient, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := live.models.Current(ctx).Version; got != o.models.Current(ctx).Version {
		t.Fatalf("live registry uses %s", got)
	}
	asGone := groupsBySource(t, live)
	if !slices.EqualFunc(calibrated, asGone, slices.Equal) {
		t.Errorf("calibrated load: %d golden records; linked as they come under its model: %d; they differ", len(calibrated), len(asGone))
	}
}
