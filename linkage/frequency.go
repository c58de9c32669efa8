package linkage

import (
	"context"
	"strings"
	"sync"
	"time"

	"idem/registry"
)

// Frequencies answers term-frequency questions ("what share of Patients have
// family name smith?") from the registry's own index, with a cache: counts
// change slowly, and a $match asks about a handful of values.
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

// paramFor maps a matcher field to the string search parameter whose index
// rows hold the same values. A value the matcher normalises differently
// from the index (a line with abbreviations written out) counts 0 and
// keeps the rules' u. Positions and organisations have no string index:
// their frequencies stay the rules'.
func paramFor(typ, field string) *registry.SearchParam {
	switch {
	case strings.Contains(field, "family"):
		return registry.LookupParam(typ, "family")
	case strings.Contains(field, "given"):
		return registry.LookupParam(typ, "given")
	case typ == registry.TypeLocation && strings.Contains(field, "name"):
		return registry.LookupParam(typ, "name")
	case field == "city":
		return registry.LookupParam(typ, "address-city")
	case field == "postalCode":
		return registry.LookupParam(typ, "address-postalcode")
	case field == "line":
		// Every part of an address is indexed under address; a line's
		// value shared by many records is a shared building.
		return registry.LookupParam(typ, "address")
	}
	return nil
}

func (f *Frequencies) lookup(ctx context.Context, typ, field, value string) float64 {
	key := typ + "|" + field + "|" + value
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
		go f.count(context.WithoutCancel(ctx), key, typ, field, value)
		return e.share
	case ok:
		return e.share
	}
	return f.count(ctx, key, typ, field, value)
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

// count reads the share of records of typ whose field has value and
// caches it.
func (f *Frequencies) count(ctx context.Context, key, typ, field, value string) float64 {
	defer func() {
		f.mu.Lock()
		delete(f.refreshing, key)
		f.mu.Unlock()
	}()
	param := paramFor(typ, field)
	if param == nil || value == "" {
		return 0
	}
	total := f.total(ctx, typ)
	counts, err := f.store.CountValues(ctx, param, []string{value})
	if err != nil || total == 0 {
		return 0
	}
	share := float64(counts[value]) / float64(total)
	f.mu.Lock()
	f.set(key, freqEntry{share: share, at: time.Now()})
	f.mu.Unlock()
	return share
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
