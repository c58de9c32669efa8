package bulk

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

// A finished import's summary is the one kept with the job when it
// finished: a client polling the status of a finished import of a million
// lines is not answered by counting them again each time. A running job's
// is counted.
func TestSummaryOfFinishedJobIsKept(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j := New(&registry.Service{Store: s}, s, fhir.Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now()
	job := &registry.BulkJob{ID: "j1", Kind: registry.JobImport, Status: registry.JobRunning, Request: "POST $import",
		Total: 3, Created: now, Updated: now}
	if err := s.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	sum, err := j.Summary(ctx, job)
	if err != nil || sum.Total != 3 || sum.Processed != 0 {
		t.Fatalf("running job: %+v, %v", sum, err)
	}
	// Finished, with the counts it kept (here made up: the job has no
	// result rows to count).
	job.Status, job.Finished = registry.JobDone, now
	job.Summary = []byte(`{"total":3,"processed":3,"created":2,"updated":1,"sources":[{"system":"http://ehr.example","outcome":"created","records":2}],"cappedKeys":["P:fam:SMITH"]}`)
	if err := s.UpdateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	if job, err = s.Job(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	sum, err = j.Summary(ctx, job)
	if err != nil || sum.Processed != 3 || sum.Created != 2 || sum.Updated != 1 || len(sum.Sources) != 1 || len(sum.Capped) != 1 {
		t.Fatalf("finished job: %+v, %v; want the kept summary", sum, err)
	}
}
