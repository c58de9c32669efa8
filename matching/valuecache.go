package matching

import (
	"hash/maphash"
	"strings"
	"sync"
)

// Names and cities repeat: a registry of a million people holds a few
// thousand given names. Their derived forms (phonetic codes, q-grams, rune
// histograms, nickname groups) cost more to compute than comparing two
// records, so newValue's results for the name-like features are kept in a
// bounded cache shared by every Extract. Values are immutable once made
// (pack copies them into the record's own blocks), so sharing is safe.
//
// The cache is sharded to keep lock contention low, and a full shard is
// emptied rather than evicted entry by entry: simple, bounded (about
// cacheShards × cacheShardSize entries), and good enough for a skewed
// name distribution, where the common names come straight back.
const (
	cacheShards    = 64
	cacheShardSize = 4096
)

type cachedValue struct {
	v  value
	ph phonetics
}

type valueKey struct {
	f feature
	s string
}

type valueShard struct {
	mu sync.RWMutex
	m  map[valueKey]cachedValue
}

var (
	valueSeed  = maphash.MakeSeed()
	valueCache [cacheShards]valueShard
)

// cachedNewValue is newValue, through the cache for the phonetic features.
func cachedNewValue(f feature, s string) (value, phonetics) {
	if !f.phonetic() || len(s) > 64 {
		return newValue(f, s)
	}
	sh := &valueCache[maphash.String(valueSeed, s)%cacheShards]
	k := valueKey{f, s}
	sh.mu.RLock()
	c, ok := sh.m[k]
	sh.mu.RUnlock()
	if ok {
		return c.v, c.ph
	}
	// The cache outlives the request: s is often a substring of a whole
	// request body (the JSON decoder's strings share it), which a cached
	// copy would keep alive, a megabyte for a Bundle, for a name.
	s = strings.Clone(s)
	k.s = s
	v, ph := newValue(f, s)
	sh.mu.Lock()
	if len(sh.m) >= cacheShardSize || sh.m == nil {
		sh.m = make(map[valueKey]cachedValue, cacheShardSize)
	}
	sh.m[k] = cachedValue{v, ph}
	sh.mu.Unlock()
	return v, ph
}
