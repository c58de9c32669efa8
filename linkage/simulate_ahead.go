package linkage

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"idem/matching"
	"idem/registry"
)

// A simulation links its records one after another: each decision sees
// the ones before it. What a record's decision reads from the store does
// not depend on them, though: its current version, its blocking keys under
// the simulation's model, and the records before it sharing them (from the
// simulation's index in memory, simindex.go; else the committed records,
// of which seenTx drops those not linked yet when the record's turn comes). So readers
// beside the simulation read that for the records coming next, one reader
// per core, at most simulateAhead records ahead, and decode the
// candidates' features into the matcher's record cache; the simulation
// itself only scores and decides. Before, one goroutine did it all in
// turn, with the other core idle.

// recordAhead is one record of a simulation, read ahead.
type recordAhead struct {
	id    string
	limit int32 // its place in the simulation's order (simIndex)
	ready chan struct{}
	body  map[string]any   // nil when deleted or gone; the id alone with rec
	rec   *matching.Record // its features, when the simulation's index holds them
	query registry.CandidateQuery
	set   *registry.CandidateSet // its candidates (nil: read when linked)
	err   error
}

// simulationAhead reads the records of a simulation ahead of it.
type simulationAhead struct {
	ctx    context.Context
	place  int32             // the place of the next record handed out
	order  chan *recordAhead // the records handed to the readers, in order; nil: read in turn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	inTurn func(*recordAhead) // reads a record when there are no readers
}

// simulateAhead is about how many records the readers may be ahead of
// the simulation.
const simulateAhead = 64

// simulateReaders is how many readers read ahead of a simulation; with
// none, each record is read in its turn (the tests compare both).
var simulateReaders = runtime.GOMAXPROCS(0)

// readAhead starts reading the records ids of typ ahead of the simulation
// over mtx; the caller takes them in order with next and calls stop.
// With index, candidates come from it; the first of ids has place first.
func (l *Linker) readAhead(ctx context.Context, mtx *memTx, typ string, ids []string, index *simIndex, first int) *simulationAhead {
	ctx, cancel := context.WithCancel(ctx)
	a := &simulationAhead{ctx: ctx, cancel: cancel, place: int32(first)}
	if simulateReaders <= 0 {
		a.inTurn = func(r *recordAhead) { l.readRecordAhead(ctx, mtx, typ, index, r) }
		return a
	}
	a.order = make(chan *recordAhead, simulateAhead)
	todo := make(chan *recordAhead)
	a.wg.Add(1)
	go func() { // hands out the records in order, as far ahead as order holds
		defer a.wg.Done()
		defer close(todo)
		for i, id := range ids {
			r := &recordAhead{id: id, limit: a.place + int32(i), ready: make(chan struct{})}
			select {
			case a.order <- r:
			case <-ctx.Done():
				return
			}
			select {
			case todo <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range simulateReaders {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for r := range todo {
				l.readRecordAhead(ctx, mtx, typ, index, r)
				close(r.ready)
			}
		}()
	}
	return a
}

// readRecordAhead reads what linking r will read: the record, its keys
// and its candidates (from index when set), decoded.
func (l *Linker) readRecordAhead(ctx context.Context, mtx *memTx, typ string, index *simIndex, out *recordAhead) {
	if index != nil && l.indexedAhead(ctx, typ, index, out) {
		return
	}
	r, err := mtx.Read(ctx, typ, out.id)
	if err != nil || r.Deleted {
		out.err = err
		return
	}
	if out.body, out.err = registry.DecodeStored(r); out.err != nil {
		return
	}
	model := l.matcher.models.Current(ctx)
	out.query = registry.CandidateQuery{Keys: model.Keys(matching.Extract(typ, out.body)), KeyCap: model.KeyCap(typ),
		Max: 2 * model.MaxCandidates(typ)} // as seenTx asks
	if !Matchable(typ) || !l.autoLink(typ) {
		return
	}
	var set *registry.CandidateSet
	if index != nil {
		out.query.Max = model.MaxCandidates(typ) // exact: no records to drop
		set = index.candidates(out.query, out.limit)
	} else if set, err = mtx.Candidates(ctx, typ, out.query); err != nil {
		return // read again when linked, where the error counts
	}
	out.set = l.decoded(set)
}

// indexedAhead takes the record from the simulation's index, where it
// was read with its features and keys under the simulation's model when
// the simulation began: neither its body nor its features are read and
// extracted again. It reports false when the index lacks it (stored after
// the simulation began, or unreadable).
func (l *Linker) indexedAhead(ctx context.Context, typ string, index *simIndex, out *recordAhead) bool {
	if out.limit < 0 || int(out.limit) >= len(index.recs) {
		return false
	}
	sr := &index.recs[out.limit]
	if sr.res == nil || sr.res.ID != out.id || sr.rec == nil {
		return false
	}
	d, err := l.matcher.decodeCandidate(sr.res, sr.rec)
	if err != nil {
		return false
	}
	rec, ok := d.(*matching.Record)
	if !ok || rec == nil {
		return false
	}
	model := l.matcher.models.Current(ctx)
	keys := sr.keys
	if keys == nil {
		keys = []string{} // none: not computed again from the record
	}
	out.rec, out.body = rec, map[string]any{"resourceType": typ, "id": out.id}
	out.query = registry.CandidateQuery{Keys: keys, KeyCap: model.KeyCap(typ), Max: model.MaxCandidates(typ)}
	if Matchable(typ) && l.autoLink(typ) {
		out.set = l.decoded(index.candidates(out.query, out.limit))
	}
	return true
}

// decoded fills set's Decoded with its candidates' features, from the
// matcher's record cache or decoded into it.
func (l *Linker) decoded(set *registry.CandidateSet) *registry.CandidateSet {
	set.Decoded = make([]any, len(set.Found))
	for i, c := range set.Found {
		if i < len(set.Records) && set.Records[i] != nil {
			if d, err := l.matcher.decodeCandidate(c, set.Records[i]); err == nil {
				set.Decoded[i] = d
			}
		}
	}
	return set
}

// next waits for the next record, which must be id.
func (a *simulationAhead) next(id string) (*recordAhead, error) {
	if a.inTurn != nil {
		r := &recordAhead{id: id, limit: a.place}
		a.place++
		a.inTurn(r)
		return r, a.ctx.Err()
	}
	var r *recordAhead
	select {
	case r = <-a.order:
	case <-a.ctx.Done():
		return nil, a.ctx.Err()
	}
	select {
	case <-r.ready:
	case <-a.ctx.Done():
		return nil, a.ctx.Err()
	}
	if r.id != id {
		return nil, registry.Internal(fmt.Errorf("a re-match read %s ahead where %s was next", r.id, id))
	}
	return r, nil
}

// stop ends the reading ahead and waits for the readers.
func (a *simulationAhead) stop() {
	a.cancel()
	a.wg.Wait()
}
