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
	store registry.MatchStore
	ttl   time.Duration

	mu         sync.Mutex
	entries    map[string]freqEntry // the newer generation; older holds the one before
	older      map[string]freqEntry
	totals     map[string]freqEntry // resources per type (share holds the count)
	refreshing map[string]bool      // keys being recounted in the background
}

type freqEntry struct {
	share float64
	at    time.Time
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
	return &Frequencies{store: store, ttl: 10 * time.Minute, entries: map[string]freqEntry{}, totals: map[string]freqEntry{}, refreshing: map[string]bool{}}
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
	stale := ok && time.Since(e.at) >= f.ttl && !f.refreshing[key]
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

// warm counts, in one query, those of a record's term keys (matching.
// Record.TermKeys) that are not cached yet.
func (f *Frequencies) warm(ctx context.Context, typ string, keys []string) {
	f.mu.Lock()
	missing := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, ok := f.get(k); !ok {
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
	counts, err := f.store.CountTerms(ctx, keys)
	if err != nil {
		return
	}
	now := time.Now()
	f.mu.Lock()
	for _, k := range keys {
		f.set(k, freqEntry{share: float64(counts[k]) / float64(total), at: now})
	}
	f.mu.Unlock()
}

// total returns the cached number of records of typ.
func (f *Frequencies) total(ctx context.Context, typ string) int {
	f.mu.Lock()
	e, ok := f.totals[typ]
	f.mu.Unlock()
	if ok && time.Since(e.at) < f.ttl {
		return int(e.share)
	}
	n, err := f.store.CountResources(ctx, typ)
	if err != nil {
		return 0
	}
	f.mu.Lock()
	f.totals[typ] = freqEntry{share: float64(n), at: time.Now()}
	f.mu.Unlock()
	return n
}
