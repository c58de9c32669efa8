package linkage

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sort"
	"sync"

	"idem/matching"
	"idem/registry"
)

// A simulation links every record of a type (or every unlinked one) in
// one pass, in an order known from the start. It used to ask the store for
// each record's candidates: three or four queries on the blocking index,
// then the candidates' rows, for every record, which at 100,000 records was
// most of a calibrated first load's time. The simulation's blocking is now
// in memory instead (simIndex): every record's blocking keys under the
// simulation's model, read and computed once, and per key the places in
// the simulation's order of the records holding it. A record's candidates
// are the records before it in that order (those linked so far, as seenTx
// keeps them), ranked as the store ranks (registry.BlockingWeight over the
// keys shared, rarest keys first, at most KeyCap records per key), counting
// only the records before it: what the store held when that record was
// written live, which the store's counts over the whole type did not give.
//
// It holds, per record, its version (without body), its compact features
// and its keys: some 900 bytes a record with the postings, 876 MB at
// 1,000,002 Patients (heap profile). The records are those stored when the
// simulation starts: one deleted while it runs is still a candidate of the
// records after it.

// simIndex is a simulation's blocking in memory.
type simIndex struct {
	recs []simRecord        // by place in the simulation's order
	post map[string][]int32 // blocking key → places of the records holding it, ascending
}

// simRecord is one record of a simulation's index.
type simRecord struct {
	pk   int64 // its position in the store (ties rank the later stored first, as the store does)
	res  *registry.Resource
	rec  []byte
	keys []string
}

// simIndexPage is how many records a simIndex reads per query.
const simIndexPage = 2000

// buildSimIndex reads the current records of typ whose ids are in order
// and indexes them by their place in it, with their keys under model.
func buildSimIndex(ctx context.Context, store Store, typ string, model *matching.Model, order []string) (*simIndex, error) {
	place := make(map[string]int32, len(order))
	for i, id := range order {
		place[id] = int32(i)
	}
	x := &simIndex{recs: make([]simRecord, len(order)), post: map[string][]int32{}}
	interned := map[string]string{}
	err := storedPages(ctx, store, typ, func(page []registry.StoredRecord) (bool, error) {
		keys := pageKeys(typ, model, page)
		for i, r := range page {
			p, ok := place[r.Resource.ID]
			if !ok || keys[i].rec == nil {
				continue // stored after the simulation began, or unreadable: never a candidate
			}
			own := make([]string, len(keys[i].keys))
			for j, k := range keys[i].keys {
				s, ok := interned[k]
				if !ok {
					s, interned[k] = k, k
				}
				own[j] = s
				x.post[s] = append(x.post[s], p)
			}
			x.recs[p] = simRecord{pk: r.Pos, res: r.Resource, rec: keys[i].rec, keys: own}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	x.compact()
	return x, nil
}

// compact drops the keys held by one record and packs what is left. A key
// held by one record makes nobody its candidate (the record asking holds
// it too, so a key in a query has two holders or is not in the index):
// most identifiers, phones and e-mails, most of the index. The postings
// that stay go into one block, as do the records' keys: built by appending,
// with a map that deleting never shrinks, the index of 1,000,000 Patients
// held 1.2 GB, most of it slack.
func (x *simIndex) compact() {
	kept, total := 0, 0
	for _, ps := range x.post {
		if len(ps) >= 2 {
			kept++
			total += len(ps)
		}
	}
	block := make([]int32, 0, total)
	post := make(map[string][]int32, kept)
	for k, ps := range x.post {
		if len(ps) < 2 {
			continue
		}
		slices.Sort(ps)
		start := len(block)
		block = append(block, ps...)
		post[k] = block[start:len(block):len(block)]
	}
	x.post = post
	keys := make([]string, 0, total) // each posting is one record's key
	for i := range x.recs {
		start := len(keys)
		for _, k := range x.recs[i].keys {
			if _, ok := post[k]; ok {
				keys = append(keys, k)
			}
		}
		x.recs[i].keys = keys[start:len(keys):len(keys)]
	}
}

// storedPages calls fn with the current records of typ, a page at a time
// in the order stored (StoredRecords), until fn returns false or an error.
func storedPages(ctx context.Context, store registry.MatchStore, typ string, fn func(page []registry.StoredRecord) (more bool, err error)) error {
	for after := int64(0); ; {
		page, err := store.StoredRecords(ctx, typ, after, simIndexPage)
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].Pos
		if more, err := fn(page); err != nil || !more {
			return err
		}
	}
}

// keyed is a record's compact features and keys.
type keyed struct {
	rec  []byte
	keys []string
}

// pageKeys decodes a page's records and computes their keys under model,
// on every core. A record stored without compact features is extracted
// from its body.
func pageKeys(typ string, model *matching.Model, page []registry.StoredRecord) []keyed {
	out := make([]keyed, len(page))
	workers := min(runtime.GOMAXPROCS(0), len(page))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(page); i += workers {
				r := page[i]
				rec, err := storedRecord(typ, r)
				if err != nil {
					continue
				}
				b := r.Record
				if b == nil || r.Resource.Body != nil { // extracted from its body: kept encoded, without the body
					b, r.Resource.Body = rec.Encode(), nil
				}
				out[i] = keyed{rec: b, keys: model.Keys(rec)}
			}
		}()
	}
	wg.Wait()
	return out
}

// candidates answers q for the record at place limit: the records before
// it sharing its keys, ranked as the store ranks (sqlstore's blocking),
// counting only them.
func (x *simIndex) candidates(q registry.CandidateQuery, limit int32) *registry.CandidateSet {
	out := &registry.CandidateSet{}
	n := make([]int, len(q.Keys))
	var order []int
	for i, k := range q.Keys {
		post := x.post[k]
		n[i] = sort.Search(len(post), func(j int) bool { return post[j] >= limit })
		switch {
		case n[i] > q.KeyCap:
			out.Capped = append(out.Capped, k)
		case n[i] > 0:
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return n[a] - n[b] })
	weight := func(i int) float64 { return registry.BlockingWeight(n[i], q.KeyCap) }
	rest := 0.0 // the most the unread keys can add to a record
	for _, i := range order {
		rest += weight(i)
	}
	score := map[int32]float64{}
	read := 0
	for read < len(order) {
		// the rare keys (no more records than Max) together, then one by one
		next := read + 1
		for next < len(order) && n[order[next]] <= q.Max {
			next++
		}
		for _, i := range order[read:next] {
			for _, p := range x.post[q.Keys[i]][:n[i]] {
				score[p] += weight(i)
			}
			rest -= weight(i)
		}
		read = next
		if settled(score, q.Max, rest) {
			break
		}
	}
	unfetched := 0
	for _, i := range order[read:] { // the records found learn which unread keys they hold
		unfetched += n[i]
		for p := range score {
			if slices.Contains(x.recs[p].keys, q.Keys[i]) {
				score[p] += weight(i)
				unfetched--
			}
		}
	}
	best := make([]int32, 0, len(score))
	for p := range score {
		best = append(best, p)
	}
	slices.SortFunc(best, func(a, b int32) int {
		if c := cmp.Compare(registry.RankScore(score[b]), registry.RankScore(score[a])); c != 0 {
			return c
		}
		return cmp.Compare(x.recs[b].pk, x.recs[a].pk)
	})
	if q.Max >= 0 && len(best) > q.Max {
		best = best[:q.Max]
	}
	out.Skipped = len(score) - len(best) + unfetched
	out.Found = make([]*registry.Resource, len(best))
	out.Records = make([][]byte, len(best))
	for i, p := range best {
		out.Found[i], out.Records[i] = x.recs[p].res, x.recs[p].rec
	}
	return out
}

// settled reports whether max records already score more than rest.
func settled(score map[int32]float64, max int, rest float64) bool {
	if len(score) < max {
		return false
	}
	above := 0
	for _, s := range score {
		if s > rest {
			if above++; above >= max {
				return true
			}
		}
	}
	return false
}
