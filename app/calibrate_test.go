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
	"idem/registry/sqlstore/sqltest"
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

// Three sources' imports queued together into a new registry make one
// calibrated first load: each stores its records unlinked, the last to
// end trains one model on all of them and links them, and the others end
// without training or re-matching again. The Persons are those that
// linking the records as they come, in the order stored, builds under
// that model. (Each import used to train and re-match the whole type when
// it ended: three trainings and three re-matches.)
func TestFirstLoadOfSeveralSources(t *testing.T) {
	sc := seed.DefaultConfig()
	sc.Seed, sc.Persons, sc.Practitioners, sc.Locations = 5, 600, 0, 0
	bodies := map[string]*bytes.Buffer{}
	var systems []string
	if err := seed.Generate(sc, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		if bodies[r.System] == nil {
			bodies[r.System] = &bytes.Buffer{}
			systems = append(systems, r.System)
		}
		b, err := json.Marshal(r.Resource)
		bodies[r.System].Write(append(b, '\n'))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(systems) < 3 {
		t.Fatalf("the seed gives Patients of %d systems, want 3", len(systems))
	}
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) { firstLoadOfSources(t, sqltest.DSN(t, kind), systems, bodies) })
	}
}

func firstLoadOfSources(t *testing.T, dsn string, systems []string, bodies map[string]*bytes.Buffer) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(registry.WithActor(context.Background(), registry.SystemActor("test")))
	defer cancel()
	cfg := DefaultConfig()
	cfg.DB, cfg.AutoTrain = dsn, true
	o, err := open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	var order []map[string]any // the records in the order the jobs store them
	var ids []string
	for _, sys := range systems {
		for line := range strings.Lines(bodies[sys].String()) {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			order = append(order, r)
		}
		t.Logf("%s: %d lines", sys, strings.Count(bodies[sys].String(), "\n"))
		job, err := o.bulk.Submit(ctx, registry.SystemActor("test"), bytes.NewReader(bodies[sys].Bytes()), bulk.ImportOptions{Request: sys})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	o.bulk.Poll = 50 * time.Millisecond
	go o.bulk.Run(ctx)
	deadline := time.Now().Add(5 * time.Minute)
	for _, id := range ids {
		for {
			job, err := o.bulk.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if job.Status == registry.JobDone {
				if !strings.Contains(string(job.Params), `"deferred":true`) {
					t.Errorf("job %s linked as it wrote: %s", id, job.Params)
				}
				break
			}
			if !job.Active() || time.Now().After(deadline) {
				t.Fatalf("job %s: %s %s", id, job.Status, job.Error)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	all, err := o.store.Models(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var models []*registry.StoredModel // trained ones (applying keeps the untrained rules too, for rollback)
	for _, m := range all {
		t.Logf("model %d: %s (%d records)", m.Version, m.Note, m.Records)
		if m.Records > 0 {
			models = append(models, m)
		}
	}
	if len(models) != 1 || !strings.Contains(models[0].Note, "calibrated first load") {
		t.Fatalf("%d models trained, want one for the three imports", len(models))
	}
	if models[0].Records != len(order) {
		t.Errorf("the model saw %d records, want all %d", models[0].Records, len(order))
	}
	page, err := o.store.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypePatient, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil || page.Total != len(order) {
		t.Fatalf("%d of %d Patients linked (%v)", page.Total, len(order), err)
	}
	calibrated := groupsBySource(t, o)
	// Each job's report says what linking did to its records, though it
	// was done after they were written, by the last job.
	newGolden := 0
	for _, id := range ids {
		job, _ := o.bulk.Job(ctx, id)
		sum, err := o.bulk.Summary(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != sum.AutoLinked+sum.NewGolden || sum.Created == 0 {
			t.Errorf("job %s: %d created, %d auto-linked, %d new golden records: every record is one or the other", id, sum.Created, sum.AutoLinked, sum.NewGolden)
		}
		newGolden += sum.NewGolden
	}
	if newGolden != len(calibrated) {
		t.Errorf("the reports count %d new golden records; the registry holds %d", newGolden, len(calibrated))
	}

	liveCfg := DefaultConfig()
	liveCfg.DB = filepath.Join(t.TempDir(), "live.db")
	live, err := open(ctx, liveCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer live.close()
	inUse, err := o.store.CurrentModel(ctx)
	if err != nil || inUse.Version != models[0].Version {
		t.Fatalf("model in use: %+v %v", inUse, err)
	}
	if _, err := live.store.SaveModel(ctx, &registry.StoredModel{Created: time.Now(), Applied: time.Now(), Note: "copy", Body: inUse.Body}); err != nil {
		t.Fatal(err)
	}
	for _, r := range order {
		if _, err := live.svc.Create(ctx, registry.TypePatient, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	if asGone := groupsBySource(t, live); !slices.EqualFunc(calibrated, asGone, slices.Equal) {
		t.Errorf("first load: %d golden records; linked as they come under its model: %d; they differ", len(calibrated), len(asGone))
	}
}
