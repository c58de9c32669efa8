package linkage

import (
	"hash/maphash"
	"strconv"
	"sync"

	"idem/matching"
	"idem/registry"
)

// recordCache keeps decoded candidate features by record version. A
// registry's common names and towns make the same records candidates of
// many writes and matches; decoding one costs more than scoring it. Entries
// are immutable (a new version is a new key); a full shard is emptied
// rather than evicted entry by entry, as the value cache in matching does.
type recordCache struct {
	shards [recordShards]recordShard
}

const (
	recordShards    = 32
	recordShardSize = 512 // about 16,000 records of some 4 KB decoded (BenchmarkDecodeRecord), 65 MB
)

type recordShard struct {
	mu sync.Mutex
	m  map[string]*matching.Record
}

var recordSeed = maphash.MakeSeed()

func recordKey(r *registry.Resource) string {
	return r.Type + "/" + r.ID + "/" + strconv.FormatInt(r.VersionID, 10)
}

func (c *recordCache) get(r *registry.Resource) *matching.Record {
	k := recordKey(r)
	sh := &c.shards[maphash.String(recordSeed, k)%recordShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[k]
}

func (c *recordCache) put(r *registry.Resource, rec *matching.Record) {
	k := recordKey(r)
	sh := &c.shards[maphash.String(recordSeed, k)%recordShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil || len(sh.m) >= recordShardSize {
		sh.m = make(map[string]*matching.Record, recordShardSize)
	}
	sh.m[k] = rec
}
