package linkage

import (
	"context"
	"sync"
	"time"

	"idem/matching"
	"idem/registry"
)

// Frequencies answers term-frequency questions ("what share of Patients have
// family name smith?") from the counts the store keeps of every record's
// term keys (matching.TermKey), with a cache: counts change slowly, and a
// $match asks about a handful of values.
type Frequencies struct {
	store      registry.MatchStore
	ttl        time.Duration
	minRecords int // minTermRecords

	mu         sync.Mutex
	entries    map[string]freqEntry // the newer generation; older holds the one before
	older      map[string]freqEntry
	totals     map[string]totalEntry // resources per type
	refreshing map[string]bool       // keys being recounted in the background
}

type freqEntry struct {
	share float64
	at    time.Time
	total int // the type's records the share was counted against
}

// totalEntry is a type's record count and the writes indexed since.
type totalEntry struct {
	n, writes int
	at        time.Time
}

// growthStale is how much a type may grow before its counts are taken
// again: a share or a total counted at a tenth of the records is wrong by
// ten times. A registry filling up (a first load, a new registry's first
// days) grows far faster than the cache's time to live; counted at its
// first record, the total stayed 0 for ten minutes, and with it the
// registry-size prior and every term frequency (Model.ForRegistry was
// skipped, shares were unknown), so a load of thousands of records was
// linked under the prior of a registry of 100,000 without term
// frequencies. Recounting the total at each tenth of growth costs one
// COUNT per n/10 writes: constant per write.
const growthStale = 10

// outgrown reports whether a count taken at total records is stale now
// that the type holds n.
func outgrown(total, n int) bool {
	return n-total > total/growthStale
}

// maxFreqEntries bounds the cache: two generations of half as many each.
// When the newer one fills it becomes the older and the oldest is dropped,
// so a busy registry keeps its recent values instead of losing them all at
// once (a load of 100,000 records, each with an address line of its own,
// emptied the whole cache and recounted every common name inside the
// writer).
const maxFreqEntries = 200_000

// NewFrequencies returns a cache over store.
func NewFrequencies(store registry.MatchStore) *Frequencies {
	return &Frequencies{store: store, ttl: 10 * time.Minute, minRecords: minTermRecords, entries: map[string]freqEntry{}, totals: map[string]totalEntry{}, refreshing: map[string]bool{}}
}

// For returns the matching.Frequencies view for one request.
func (f *Frequencies) For(ctx context.Context) requestFrequencies {
	return requestFrequencies{f: f, ctx: ctx}
}

type requestFrequencies struct {
	f   *Frequencies
	ctx context.Context
}

// Frequency returns the share of records of typ whose field has value, or 0
// when unknown (no term-frequency adjustment then).
func (r requestFrequencies) Frequency(typ, field, value string) float64 {
	return r.f.lookup(r.ctx, typ, field, value)
}

func (f *Frequencies) lookup(ctx context.Context, typ, field, value string) float64 {
	if value == "" {
		return 0
	}
	key := matching.TermKey(typ, field, value)
	f.mu.Lock()
	e, ok := f.get(key)
	stale := ok && f.stale(typ, e) && !f.refreshing[key]
	if stale {
		f.refreshing[key] = true
	}
	f.mu.Unlock()
	switch {
	case stale:
		// Frequencies move slowly: an expired share is still served, and
		// refreshed off the caller's path (often the single writer).
		go func() {
			f.count(context.WithoutCancel(ctx), typ, []string{key})
			f.mu.Lock()
			delete(f.refreshing, key)
			f.mu.Unlock()
		}()
		return e.share
	case ok:
		return e.share
	}
	f.count(ctx, typ, []string{key})
	f.mu.Lock()
	e, _ = f.get(key)
	f.mu.Unlock()
	return e.share
}

// stale reports whether a cached share has expired or was counted when
// the type held far fewer records; f.mu is held.
func (f *Frequencies) stale(typ string, e freqEntry) bool {
	if time.Since(e.at) >= f.ttl {
		return true
	}
	t, ok := f.totals[typ]
	return ok && outgrown(e.total, t.n+t.writes)
}

// warm counts, in one query, those of a record's term keys (matching.
// Record.TermKeys) that are not cached yet or are stale, and notes a write
// of typ (warm is called as each record is indexed for its write).
func (f *Frequencies) warm(ctx context.Context, typ string, keys []string) {
	f.mu.Lock()
	if t, ok := f.totals[typ]; ok {
		t.writes++
		f.totals[typ] = t
	}
	missing := make([]string, 0, len(keys))
	for _, k := range keys {
		if e, ok := f.get(k); !ok || f.stale(typ, e) {
			missing = append(missing, k)
		}
	}
	f.mu.Unlock()
	if len(missing) > 0 {
		f.count(ctx, typ, missing)
	}
}

// get returns the cached entry of key, moving one of the older
// generation into the newer; f.mu is held.
func (f *Frequencies) get(key string) (freqEntry, bool) {
	if e, ok := f.entries[key]; ok {
		return e, true
	}
	e, ok := f.older[key]
	if ok {
		f.set(key, e)
	}
	return e, ok
}

// set caches e under key, starting a new generation when the newer is
// full; f.mu is held.
func (f *Frequencies) set(key string, e freqEntry) {
	if len(f.entries) >= maxFreqEntries/2 {
		f.older, f.entries = f.entries, make(map[string]freqEntry, maxFreqEntries/2)
	}
	f.entries[key] = e
}

// count reads how many records of typ hold each of these term keys (the
// store keeps the counts as records are written) and caches their shares;
// on an error nothing is cached and the shares stay unknown (0).
func (f *Frequencies) count(ctx context.Context, typ string, keys []string) {
	total := f.total(ctx, typ)
	if total == 0 {
		return
	}
	var counts map[string]int
	if total >= f.minRecords {
		var err error
		if counts, err = f.store.CountTerms(ctx, keys); err != nil {
			return
		}
	}
	now := time.Now()
	f.mu.Lock()
	for _, k := range keys {
		share := 0.0 // unknown: the rules' u stands
		if counts != nil {
			share = float64(counts[k]) / float64(total)
		}
		f.set(k, freqEntry{share: share, at: now, total: total})
	}
	f.mu.Unlock()
}

// minTermRecords is the fewest records of a type whose shares are used as
// term frequencies. Among a handful of records a share says nothing of how
// common a value is (every value of a one-record registry has a share of
// 1, which would weigh an agreeing name at one bit); below this the rules'
// u, stated for a general population, stands. Counted again as the type
// grows (growthStale), the shares take over at this size.
const minTermRecords = 1000

// total returns the cached number of records of typ, counted again when
// it has expired or the writes indexed since may have grown it by more
// than a tenth.
func (f *Frequencies) total(ctx context.Context, typ string) int {
	f.mu.Lock()
	e, ok := f.totals[typ]
	f.mu.Unlock()
	// An empty type is counted every time (the count is free): the write
	// that found it empty had not been stored yet.
	if ok && e.n > 0 && time.Since(e.at) < f.ttl && !outgrown(e.n, e.n+e.writes) {
		return e.n
	}
	n, err := f.store.CountResources(ctx, typ)
	if err != nil {
		return 0
	}
	f.mu.Lock()
	f.totals[typ] = totalEntry{n: n, at: time.Now()}
	f.mu.Unlock()
	return n
}
