package linkage

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"idem/registry"
)

// LinkChange is how re-matching changes one record's links.
type LinkChange struct {
	Source    string   // the record, "Patient/123"
	From, To  string   // its golden record before and after ("" none; "new" a new one)
	Review    []string // the golden records it becomes a candidate of
	Dropped   []string // the golden records it stops being a candidate of
	Unchanged bool     `json:"-"`
}

// Job is a re-match in progress ($mdm-submit runs it as a durable job,
// rematch_job.go). cursor, when set, is the search page it starts from;
// page, when set, hears of each page done with the cursor of the next.
type Job struct {
	ID      string
	Type    string
	DryRun  bool
	Started time.Time

	total, done, changed atomic.Int64
	mu                   sync.Mutex
	finished             time.Time
	err                  error
	changes              []LinkChange
	cursor               string
	page                 func(next string) error
}

// JobStatus is a snapshot of a job.
type JobStatus struct {
	ID, Type             string
	DryRun               bool
	Total, Done, Changed int64
	Started, Finished    time.Time
	Err                  error
	Changes              []LinkChange // dry run: the changes it would make (at most maxListedChanges)
	Running              bool
}

const maxListedChanges = 1000

// Status returns the job's progress.
func (j *Job) Status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return JobStatus{ID: j.ID, Type: j.Type, DryRun: j.DryRun, Total: j.total.Load(), Done: j.done.Load(), Changed: j.changed.Load(),
		Started: j.Started, Finished: j.finished, Err: j.err, Changes: append([]LinkChange(nil), j.changes...), Running: j.finished.IsZero()}
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Rematch re-matches the records of typ that criteria selects,
// synchronously: each record is matched again and its AUTO links follow
// the current model (MANUAL links and NO_MATCH decisions stay). With
// dryRun nothing is applied: each record's decision is made in a
// transaction that is rolled back, and the changes are listed instead.
// $mdm-submit runs it as a durable job (rematch_job.go).
func (l *Linker) Rematch(ctx context.Context, typ string, criteria url.Values, dryRun bool) (JobStatus, error) {
	j := &Job{Type: typ, DryRun: dryRun, Started: l.now()}
	err := l.rematch(ctx, j, criteria)
	j.finished = l.now()
	return j.Status(), err
}

func (l *Linker) rematch(ctx context.Context, j *Job, criteria url.Values) error {
	params := url.Values{}
	for k, v := range criteria {
		params[k] = v
	}
	params.Set("_count", "200")
	params.Set("_sort", "_lastUpdated")
	first := j.cursor == ""
	if !first {
		params.Set("_cursor", j.cursor)
	}
	for {
		q, err := registry.ParseQuery(j.Type, params, false)
		if err != nil {
			return err
		}
		// Only the first page's total is used: counting a million records
		// took 0.28 s, more than re-matching the page's first thirty.
		q.NoTotal = !first
		page, err := l.store.Search(ctx, q)
		if err != nil {
			return err
		}
		if first && page.Total >= 0 {
			j.total.Store(int64(page.Total))
		}
		first = false
		for _, r := range page.Matches {
			if err := l.rematchOne(ctx, j, r); err != nil {
				return err
			}
			j.done.Add(1)
		}
		if j.page != nil {
			if err := j.page(page.Next); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		params.Set("_cursor", page.Next)
	}
}

func (l *Linker) rematchOne(ctx context.Context, j *Job, r *registry.Resource) error {
	body, err := registry.DecodeStored(r)
	if err != nil {
		return err
	}
	var change LinkChange
	err = l.write0(ctx, func(ltx registry.Tx) error {
		before, err := ltx.Links(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: r.ID, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			return err
		}
		golden, p, err := l.link(ctx, ltx, r.Type, r.ID, body, false)
		if err != nil {
			return err
		}
		change = describe(r, before, golden, p)
		if j.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	if !change.Unchanged {
		j.changed.Add(1)
		j.mu.Lock()
		if len(j.changes) < maxListedChanges {
			j.changes = append(j.changes, change)
		}
		j.mu.Unlock()
	}
	return nil
}

// describe says what a plan changed for a record.
func describe(r *registry.Resource, before []*registry.Link, golden string, p *plan) LinkChange {
	c := LinkChange{Source: r.Type + "/" + r.ID, To: golden, Unchanged: p == nil || !p.changed()}
	if len(before) > 0 {
		c.From = before[0].Golden()
	}
	if p == nil {
		return c
	}
	for _, k := range p.removes {
		if k.SourceType == r.Type && k.SourceID == r.ID && k.MatchResult == registry.MatchResultPossible {
			c.Dropped = append(c.Dropped, k.Golden())
		}
	}
	for _, k := range p.puts {
		if k.SourceType == r.Type && k.SourceID == r.ID {
			if k.MatchResult == registry.MatchResultPossible {
				c.Review = append(c.Review, k.Golden())
			}
			if k.MatchResult == registry.MatchResultMatch && k.NewGolden && c.From != golden {
				c.To = "new"
			}
		}
	}
	return c
}
