package linkage

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// jobRun runs model jobs the way the job worker does, keeping the job's
// row in memory: checkpoint stores what the row would hold; hook, when
// set, sees each checkpoint's stage first and may stop the job there (an
// error) or do something while it waits.
type jobRun struct {
	t      *testing.T
	cal    *Calibrator
	job    *registry.BulkJob
	stored []byte // the job's Params as of its last checkpoint
	hook   func(stage string) error
}

func newJobRun(t *testing.T, ctx context.Context, cal *Calibrator, op string, version int64) *jobRun {
	t.Helper()
	job, err := cal.NewJob(ctx, op, registry.TypePatient, version, "test")
	if err != nil {
		t.Fatal(err)
	}
	job.ID = strings.Repeat(op[:1], 32)
	return &jobRun{t: t, cal: cal, job: job, stored: job.Params}
}

// run runs the job from its last checkpoint, as a worker taking it over.
func (r *jobRun) run() error {
	r.job.Params = r.stored
	return r.cal.RunJob(context.Background(), r.job, func() error {
		var p modelJob
		if err := json.Unmarshal(r.job.Params, &p); err != nil {
			r.t.Fatal(err)
		}
		if r.hook != nil {
			if err := r.hook(p.Stage); err != nil {
				return err
			}
		}
		r.stored = r.job.Params
		return nil
	})
}

func (r *jobRun) result() *ModelJobResult {
	r.t.Helper()
	st, err := ModelJob(&registry.BulkJob{ID: r.job.ID, Kind: JobModel, Params: r.stored})
	if err != nil || st.Result == nil {
		r.t.Fatalf("job %s has no result: %+v %v", r.job.ID, st, err)
	}
	return st.Result
}

// calibratedWithCandidate loads generated Patients, makes a steward's
// MANUAL link and NO_MATCH, brings the registry to its model's re-matched
// state and trains a candidate.
func calibratedWithCandidate(t *testing.T, s *sqlstore.Store) (*calibrated, *registry.StoredModel, []string) {
	t.Helper()
	recs, _ := generatedPatients(t, 120, seed.ProfileMany)
	k := openCalibrated(t, s, CalibrateConfig{})
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	loadBundles(t, ctx, k.svc, recs)
	match, _ := goldenOf(t, s)
	srcs := slices.Sorted(maps.Keys(match))
	steward := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "steward1"})
	if _, err := k.l.SetLink(steward, match[srcs[1]], srcs[0], registry.MatchResultMatch, false); err != nil {
		t.Fatal(err)
	}
	if _, err := k.l.SetLink(steward, match[srcs[3]], srcs[2], registry.MatchResultNoMatch, false); err != nil {
		t.Fatal(err)
	}
	if err := k.cal.LinkAll(ctx, registry.TypePatient); err != nil {
		t.Fatal(err)
	}
	cand, err := k.cal.Train(ctx, registry.TypePatient, "test")
	if err != nil {
		t.Fatal(err)
	}
	return k, cand, manualState(linkRows(t, s))
}

func auditCount(t *testing.T, s *sqlstore.Store, subtype string) int {
	t.Helper()
	q, err := registry.ParseQuery(registry.TypeAuditEvent, url.Values{"subtype": {subtype}}, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

var errKilled = errors.New("worker killed")

// An apply job stopped midway — after the records' golden records were
// written, before their review links and its AuditEvent — and taken over
// from its last checkpoint ends as an uninterrupted apply does: every
// change the dry run listed made (and nothing else), nothing left to
// re-match under the model, the steward's links kept, one AuditEvent; its
// result counts the changes planned at the start. A training job run
// again finds the model it stored instead of training another.
func TestModelJobResumes(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k, cand, manual := calibratedWithCandidate(t, s)
		ctx := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "steward1"})

		dry := newJobRun(t, ctx, k.cal, OpDryRun, cand.Version)
		if err := dry.run(); err != nil {
			t.Fatal(err)
		}
		planned, err := k.l.PlanRematch(ctx, registry.TypePatient, mustModel(t, k, cand.Version))
		if err != nil {
			t.Fatal(err)
		}
		if res := dry.result(); len(res.Rematch) != 1 || res.Rematch[0].Changed != planned.Changed() || planned.Changed() == 0 {
			t.Fatalf("dry run job: %+v, the plan changes %d", res, planned.Changed())
		}

		match0, review0 := goldenOf(t, s)
		apply := newJobRun(t, ctx, k.cal, OpApply, cand.Version)
		writes := 0
		apply.hook = func(stage string) error {
			if strings.HasPrefix(stage, "apply: writing") {
				if writes++; writes == 1 { // after the golden records, before the review links
					return errKilled
				}
			}
			return nil
		}
		if err := apply.run(); !errors.Is(err, errKilled) {
			t.Fatalf("the interrupted apply: %v", err)
		}
		if n := auditCount(t, s, "model-apply"); n != 0 {
			t.Fatalf("%d model-apply AuditEvents before the apply finished", n)
		}
		mid := linkRows(t, s)
		apply.hook = nil
		if err := apply.run(); err != nil {
			t.Fatal(err)
		}
		match1, review1 := goldenOf(t, s)
		checkChanges(t, planned, match0, review0, match1, review1)
		if slices.Equal(mid, linkRows(t, s)) {
			t.Fatal("the interrupted apply had nothing left to do: it was not interrupted midway")
		}
		if got := manualState(linkRows(t, s)); !slices.Equal(got, manual) {
			t.Fatalf("steward links changed: %v, want %v", got, manual)
		}
		again, err := k.l.PlanRematch(ctx, registry.TypePatient, k.models.Current(ctx))
		if err != nil || again.Changed() != 0 {
			t.Fatalf("after the resumed apply, re-matching would change %d records (%v)", again.Changed(), err)
		}
		if res := apply.result(); res.State != registry.ModelApplied || res.Rematch[0].Changed != planned.Changed() {
			t.Fatalf("apply result %+v, want %d changed", res, planned.Changed())
		}
		// Run once more, as a worker that took over after the job's last
		// checkpoint but before it was marked done: nothing changes.
		done := linkRows(t, s)
		if err := apply.run(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(done, linkRows(t, s)) {
			t.Fatal("running a finished apply again changed links")
		}
		if n := auditCount(t, s, "model-apply"); n != 1 {
			t.Fatalf("%d model-apply AuditEvents, want 1", n)
		}

		train := newJobRun(t, ctx, k.cal, OpTrain, 0)
		if err := train.run(); err != nil {
			t.Fatal(err)
		}
		v := train.result().Version
		if err := train.run(); err != nil {
			t.Fatal(err)
		}
		list, _ := k.cal.History(ctx)
		if train.result().Version != v || len(list) != 3 { // the rules, the candidate, this job's model
			t.Fatalf("training again gave model %d (first %d); %d models stored", train.result().Version, v, len(list))
		}
	})
}

func mustModel(t *testing.T, k *calibrated, version int64) *matching.Model {
	t.Helper()
	_, m, err := k.cal.load(context.Background(), version)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A dry run holds no write transaction: a live create, made while the dry
// run is stopped midway through its simulation, completes before the dry
// run goes on (with the simulation in a write transaction, as before, it
// would wait for the dry run's end: this test would time out). During an
// apply a live create of a duplicate, made between two of its
// transactions, is stored once and linked once, and the apply re-matches
// it with the rest (nothing left to re-match after).
func TestModelJobLiveWrites(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k, cand, _ := calibratedWithCandidate(t, s)
		ctx := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "steward1"})
		live := registry.WithActor(context.Background(), registry.SystemActor("live client"))
		create := func(family string) string {
			t.Helper()
			created := make(chan string, 1)
			go func() {
				out, err := k.svc.Create(live, registry.TypePatient, map[string]any{"resourceType": "Patient",
					"name":      []any{map[string]any{"family": family, "given": []any{"Ada"}}},
					"birthDate": "1971-03-04", "gender": "female",
					"address": []any{map[string]any{"line": []any{"1 Live Street"}, "city": "Leeds", "postalCode": "LS1 1AA"}}}, "")
				if err != nil {
					t.Error(err)
					created <- ""
					return
				}
				created <- out.Resource.ID
			}()
			select {
			case id := <-created:
				return id
			case <-time.After(60 * time.Second):
				t.Fatal("a live create waited for the model job")
				return ""
			}
		}

		var during string
		dry := newJobRun(t, ctx, k.cal, OpDryRun, cand.Version)
		dry.hook = func(stage string) error {
			if strings.HasPrefix(stage, "dry run: simulating") && during == "" {
				during = create("Livewriter")
			}
			return nil
		}
		if err := dry.run(); err != nil {
			t.Fatal(err)
		}
		if during == "" {
			t.Fatal("the dry run reported no progress while simulating")
		}

		var dup string
		apply := newJobRun(t, ctx, k.cal, OpApply, cand.Version)
		apply.hook = func(stage string) error {
			if strings.HasPrefix(stage, "apply: writing") && dup == "" {
				dup = create("Livewriter") // the same person again
			}
			return nil
		}
		if err := apply.run(); err != nil {
			t.Fatal(err)
		}
		if dup == "" {
			t.Fatal("the apply reported no progress while writing")
		}
		for _, id := range []string{during, dup} {
			links, err := s.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypePatient, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
			if err != nil || len(links.Links) != 1 {
				t.Fatalf("Patient/%s created during a model job has %d MATCH links (%v), want 1", id, len(links.Links), err)
			}
		}
		again, err := k.l.PlanRematch(ctx, registry.TypePatient, k.models.Current(ctx))
		if err != nil || again.Changed() != 0 {
			t.Fatalf("after the apply, re-matching would change %d records (%v): %+v", again.Changed(), err, again.Changes)
		}
	})
}

// Applies and rollbacks run one at a time across instances: an apply job
// asked for while an older one is active in the job table steps aside
// with a retryable error (its stage says what it waits for), changing
// nothing, and runs once the older one is done.
func TestModelApplyJobsTakeTurns(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k, cand, _ := calibratedWithCandidate(t, s)
		ctx := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "steward1"})
		now := time.Now()
		var jobs []*registry.BulkJob
		for i, id := range []string{"a1", "b2"} {
			job, err := k.cal.NewJob(ctx, OpApply, "", cand.Version, "")
			if err != nil {
				t.Fatal(err)
			}
			job.ID, job.Status, job.Created, job.Updated = id, registry.JobRunning, now.Add(time.Duration(i)*time.Second), now
			if err := s.CreateJob(ctx, job); err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, job)
		}
		run := k.cal.JobRunner(s)
		before := linkRows(t, s)
		err := run(context.Background(), jobs[1], func() error { return s.UpdateJob(ctx, jobs[1]) })
		if registry.ErrorCode(err) != registry.EInternal || !strings.Contains(err.Error(), "waits for job a1") {
			t.Fatalf("the younger apply while the older is active: %v", err)
		}
		if st, _ := s.Job(ctx, "b2"); !strings.Contains(string(st.Params), "waiting for apply model") {
			t.Fatalf("the waiting job's stage: %s", st.Params)
		}
		if !slices.Equal(before, linkRows(t, s)) || k.models.Current(ctx).Version == mustModel(t, k, cand.Version).Version {
			t.Fatal("the waiting apply changed something")
		}
		jobs[0].Status = registry.JobDone
		if err := s.UpdateJob(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), jobs[1], func() error { return s.UpdateJob(ctx, jobs[1]) }); err != nil {
			t.Fatalf("the apply once the older one is done: %v", err)
		}
		if k.models.Current(ctx).Version != mustModel(t, k, cand.Version).Version {
			t.Fatal("the model is not in use after its apply")
		}
	})
}
