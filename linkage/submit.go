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

// Job is a re-match running in the background ($mdm-submit). Jobs live in
// the instance that runs them.
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

// jobs are the instance's re-match jobs.
type jobs struct {
	mu   sync.Mutex
	byID map[string]*Job
}

// Job returns a job by id.
func (l *Linker) Job(id string) (*Job, bool) {
	l.jobs.mu.Lock()
	defer l.jobs.mu.Unlock()
	j, ok := l.jobs.byID[id]
	return j, ok
}

// Submit starts re-matching the records of typ that criteria selects, in
// the background: each record is matched again and its AUTO links follow
// the current model (MANUAL links and NO_MATCH decisions stay). With
// dryRun nothing is applied: each record's decision is made in a
// transaction that is rolled back, and the changes are listed instead.
func (l *Linker) Submit(ctx context.Context, typ string, criteria url.Values, dryRun bool) (*Job, error) {
	if !Matchable(typ) {
		return nil, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	if _, err := registry.ParseQuery(typ, criteria, true); err != nil {
		return nil, err
	}
	l.jobs.mu.Lock()
	if l.jobs.byID == nil {
		l.jobs.byID = map[string]*Job{}
	}
	// Ids are random, not counted: instances sharing a database must not
	// hand out the same one.
	j := &Job{ID: l.w.NewResourceID(), Type: typ, DryRun: dryRun, Started: l.now()}
	l.jobs.byID[j.ID] = j
	l.jobs.mu.Unlock()
	actor := registry.ActorFrom(ctx)
	go func() {
		err := l.rematch(registry.WithActor(context.Background(), actor), j, criteria)
		j.mu.Lock()
		j.err, j.finished = err, l.now()
		j.mu.Unlock()
		if err != nil {
			l.log.Error("re-match failed", "job", j.ID, "type", typ, "err", err)
		}
	}()
	return j, nil
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Rematch re-matches synchronously; Submit runs it as a job.
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
	first := true
	for {
		q, err := registry.ParseQuery(j.Type, params, false)
		if err != nil {
			return err
		}
		page, err := l.store.Search(ctx, q)
		if err != nil {
			return err
		}
		if first && page.Total >= 0 {
			j.total.Store(int64(page.Total))
		}
		first = false
		_ = q
		for _, r := range page.Matches {
			if err := l.rematchOne(ctx, j, r); err != nil {
				return err
			}
			j.done.Add(1)
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
