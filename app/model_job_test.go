package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"idem/linkage"
	"idem/registry"
	"idem/registry/bulk"
	"idem/registry/fhir"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// A model job survives the end of the process that queued or ran it, on
// SQLite and PostgreSQL. Queued while no worker runs (the process closed
// before its worker picked it up), it is done by the next start. Killed
// (kill -9) in the middle of an apply, the apply is taken over by the next
// process once the lease runs out and finishes: the model applied and in
// use, its AuditEvent written once, the job's result the changes planned.
func TestModelJobSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			if kind == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "idem.db")
			}
			env := []string{"IDEM_JOB_LEASE=2s", "IDEM_MATCH_AUTOTRAIN=false"}
			addr := freeAddr(t)
			child := startChildEnv(t, dsn, addr, env...)
			root := "http://" + addr
			loadPatientsOver(t, root+"/fhir", 400)

			// Queued, then the process ends before any worker runs it.
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			cfg := DefaultConfig()
			cfg.DB, cfg.Seed, cfg.AutoTrain = dsn, false, false
			var queued string
			err := withStore(context.Background(), cfg, io.Discard, func(o *opened) error {
				ctx := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "admin", Roles: []string{"admin"}})
				job, err := o.calib.NewJob(ctx, linkage.OpTrain, registry.TypePatient, 0, "queued before a restart")
				if err != nil {
					return err
				}
				err = o.bulk.Enqueue(ctx, job) // no worker runs in this process
				queued = job.ID
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			child = startChildEnv(t, dsn, addr, env...)
			res := pollModelJob(t, root, root+"/admin/api/models/jobs/"+queued, nil)
			version := int(res["version"].(float64))
			if res["state"] != registry.ModelCandidate {
				t.Fatalf("the queued training: %v", res)
			}

			// Killed mid-apply; the next process finishes it.
			resp, out := adminCall(t, "POST", fmt.Sprintf("%s/admin/api/models/%d/apply", root, version), "")
			loc := resp.Header.Get("Content-Location")
			if resp.StatusCode != 202 {
				t.Fatalf("apply: %d %v", resp.StatusCode, out)
			}
			var seen string
			waitFor(t, "the apply running", 60*time.Second, func() bool {
				resp, _ := adminCall(t, "GET", loc, "")
				seen = resp.Header.Get("X-Progress")
				if resp.StatusCode == 200 {
					t.Fatal("the apply finished before the kill: load more records")
				}
				return strings.HasPrefix(seen, "apply:")
			})
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			killed := time.Now()
			otherAddr := freeAddr(t)
			startChildEnv(t, dsn, otherAddr, env...)
			other := "http://" + otherAddr
			res = pollModelJob(t, other, strings.Replace(loc, root, other, 1), nil)
			rematch, _ := res["rematch"].([]any)
			if int(res["version"].(float64)) != version || res["state"] != registry.ModelApplied || len(rematch) != 1 {
				t.Fatalf("the apply after the kill: %v", res)
			}
			_, body, _ := call("GET", other+"/fhir/AuditEvent?subtype=model-apply&_summary=count", "")
			var count struct{ Total int }
			json.Unmarshal(body, &count)
			if count.Total != 1 {
				t.Fatalf("%d model-apply AuditEvents, want 1", count.Total)
			}
			_, m := adminCall(t, "GET", fmt.Sprintf("%s/admin/api/models/%d", other, version), "")
			if m["state"] != registry.ModelApplied {
				t.Fatalf("model %d after the apply: %v", version, m)
			}
			t.Logf("killed at %q; taken over and finished %s later: %v records changed",
				seen, time.Since(killed).Round(100*time.Millisecond), rematch[0].(map[string]any)["Changed"])
		})
	}
}

// pollModelJob polls a model job's URL until it is done and returns its
// result; every answer before is 202 with X-Progress.
func pollModelJob(t *testing.T, root, url string, progress func(string)) map[string]any {
	t.Helper()
	var resp *http.Response
	var out map[string]any
	waitFor(t, "model job "+url, 3*time.Minute, func() bool {
		resp, out = adminCall(t, "GET", url, "")
		if resp.StatusCode == 202 && resp.Header.Get("X-Progress") == "" {
			t.Fatalf("202 without X-Progress: %v", out)
		}
		if progress != nil && resp.StatusCode == 202 {
			progress(resp.Header.Get("X-Progress"))
		}
		return resp.StatusCode != 202
	})
	res, _ := out["result"].(map[string]any)
	if resp.StatusCode != 200 || res == nil {
		t.Fatalf("model job %s: %d %v", url, resp.StatusCode, out)
	}
	return res
}

// loadPatientsOver posts a generated network's Patients to the FHIR base,
// in transaction Bundles of 100.
func loadPatientsOver(t *testing.T, base string, persons int) {
	t.Helper()
	sc := seed.DefaultConfig()
	sc.Seed, sc.Persons, sc.Practitioners, sc.Locations = 5, persons, 0, 0
	var entries []string
	flush := func() {
		if len(entries) == 0 {
			return
		}
		st, body, err := call("POST", base, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)
		if err != nil || st != 200 {
			t.Fatalf("load: %d %v %.300s", st, err, body)
		}
		entries = entries[:0]
	}
	err := seed.Generate(sc, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		b, err := json.Marshal(r.Resource)
		if err != nil {
			return err
		}
		entries = append(entries, `{"resource":`+string(b)+`,"request":{"method":"POST","url":"Patient"}}`)
		if len(entries) == 100 {
			flush()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	flush()
}

// A job whose runner works longer than a lease without a checkpoint (a
// model's training is one long step) keeps its lease: a second worker on
// the same database, polling all the while, never takes it over, and the
// runner runs once. Without the renewals the second worker would run it
// again as soon as the first lease ran out.
func TestJobLeaseKeptWhileRunnerWorks(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	o, limits, log := openForJobs(t, ctx)
	var runs atomic.Int32
	slow := func(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
		runs.Add(1)
		select {
		case <-time.After(1500 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var workers []*bulk.Jobs
	var wg sync.WaitGroup
	for range 2 {
		w := bulk.New(o.svc, o.store, limits, log)
		w.Lease, w.Poll = 300*time.Millisecond, 20*time.Millisecond
		w.Handle("lease-test", slow)
		workers = append(workers, w)
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	job := &registry.BulkJob{Kind: "lease-test", Actor: registry.SystemActor("test"), Request: "sleep"}
	if err := workers[0].Enqueue(ctx, job); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job done", 30*time.Second, func() bool {
		j, err := o.store.Job(ctx, job.ID)
		return err == nil && j.Status == registry.JobDone
	})
	stop()
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("the runner ran %d times, want 1", n)
	}
}

// A worker that stops cleanly (its context ends: the process is shutting
// down) gives up the lease of the job it was working on, so another
// instance takes the job over at once instead of when the lease runs out
// (a minute here, longer than the test waits).
func TestJobLeaseGivenUpOnStop(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	o, limits, log := openForJobs(t, ctx)
	started := make(chan string, 2)
	runner := func(name string) bulk.Runner {
		return func(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
			started <- name
			if name == "second" {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
	}
	worker := func(ctx context.Context, name string) (*bulk.Jobs, chan struct{}) {
		w := bulk.New(o.svc, o.store, limits, log)
		w.Lease, w.Poll = time.Minute, 20*time.Millisecond
		w.Handle("stop-test", runner(name))
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		return w, done
	}
	firstCtx, stopFirst := context.WithCancel(ctx)
	first, firstDone := worker(firstCtx, "first")
	job := &registry.BulkJob{Kind: "stop-test", Actor: registry.SystemActor("test"), Request: "wait"}
	if err := first.Enqueue(ctx, job); err != nil {
		t.Fatal(err)
	}
	if got := <-started; got != "first" {
		t.Fatalf("%s worker started the job", got)
	}
	stopFirst()
	<-firstDone
	_, secondDone := worker(ctx, "second")
	waitFor(t, "the second worker to finish the job", 10*time.Second, func() bool {
		j, err := o.store.Job(ctx, job.ID)
		return err == nil && j.Status == registry.JobDone
	})
	stop()
	<-secondDone
}

// openForJobs opens a registry on a fresh SQLite file, without demo data or
// training, for tests that run bulk workers of their own on its store.
func openForJobs(t *testing.T, ctx context.Context) (*opened, fhir.Limits, *slog.Logger) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DB, cfg.Seed, cfg.AutoTrain = sqltest.DSN(t, "sqlite"), false, false
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o, err := open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.close() })
	limits, err := fhir.ParseLimits(cfg.MaxRepeats)
	if err != nil {
		t.Fatal(err)
	}
	return o, limits, log
}
