package bulk

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

// slowLoad is a calibration whose end-of-import step (linking a calibrated
// first load) takes hold, several leases long.
type slowLoad struct {
	hold  time.Duration
	calls atomic.Int32
}

func (s *slowLoad) DeferLinking(context.Context, int) (bool, error) { return false, nil }

func (s *slowLoad) Loaded(ctx context.Context, _ []string, _ bool) error {
	s.calls.Add(1)
	select {
	case <-time.After(s.hold):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// An import whose one step outlasts its lease (here the linking at its
// end, three leases long) keeps the lease: a second worker on the same
// database, polling meanwhile, never takes the job over, and the job ends
// once, done, with its step run once.
func TestImportKeepsLeaseThroughLongStep(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cal := &slowLoad{hold: 3 * time.Second}
	worker := func() *Jobs {
		j := New(&registry.Service{Store: s}, s, fhir.Limits{}, log)
		j.Lease, j.Calibration = time.Second, cal
		return j
	}
	a, b := worker(), worker()
	lines := `{"resourceType":"Patient","id":"p1","name":[{"family":"Lee","given":["Ann"]}],"birthDate":"1970-01-02"}` + "\n"
	job, err := a.Submit(ctx, registry.SystemActor("test"), strings.NewReader(lines), ImportOptions{Request: "test", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Work(ctx, job.ID, nil) }()
	stolen := 0
	deadline := time.After(10 * time.Second)
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("first worker: %v", err)
			}
			finished = true
		case <-deadline:
			t.Fatal("the import did not end")
		case <-time.After(200 * time.Millisecond):
			// b's Work returns at once when it cannot lease the job
			if won, err := s.Lease(ctx, job.ID, b.owner, b.now(), b.Lease); err != nil {
				t.Fatal(err)
			} else if won {
				stolen++
				_ = s.Unlease(ctx, job.ID, b.owner)
			}
		}
	}
	if stolen > 0 {
		t.Errorf("the second worker leased the running job %d times", stolen)
	}
	if n := cal.calls.Load(); n != 1 {
		t.Errorf("the import's last step ran %d times, want once", n)
	}
	if got, err := s.Job(ctx, job.ID); err != nil || got.Status != registry.JobDone {
		t.Fatalf("job: %+v, %v; want done", got, err)
	}
}
