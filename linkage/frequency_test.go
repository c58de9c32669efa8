package linkage

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestFrequencyServedWhileRecounted: an expired share is served at once
// and recounted in the background, so a writer never waits on a count.
func TestFrequencyServedWhileRecounted(t *testing.T) {
	s, svc, _, _ := open(t)
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Smith","given":["Ann"]}]}`)
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Jones","given":["Bo"]}]}`)
	f := NewFrequencies(s)
	f.minRecords = 2
	ctx := context.Background()
	if got := f.lookup(ctx, "Patient", "family", "smith"); got != 0.5 {
		t.Fatalf("share of smith %v, want 0.5", got)
	}
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Smith","given":["Cy"]}]}`)
	f.ttl = 0 // everything is stale from now on
	if got := f.lookup(ctx, "Patient", "family", "smith"); got != 0.5 {
		t.Fatalf("stale share %v, want the cached 0.5 served at once", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		e, busy := f.entries["tf:Patient:family:smith"], f.refreshing["tf:Patient:family:smith"]
		f.mu.Unlock()
		if !busy && e.share != 0.5 {
			return // recounted (2 of the 2 or 3 records the cached total knows)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the stale share was never recounted")
}

// TestFrequencyCacheKeepsRecentValues: when the cache fills, the values
// used since the last generation stay; only those unused for two go.
func TestFrequencyCacheKeepsRecentValues(t *testing.T) {
	f := NewFrequencies(nil)
	f.set("kept", freqEntry{share: 0.25})
	f.set("dropped", freqEntry{share: 0.5})
	for i := 0; i < maxFreqEntries/2; i++ {
		f.set(strconv.Itoa(i), freqEntry{share: 1})
	}
	if e, ok := f.get("kept"); !ok || e.share != 0.25 {
		t.Fatal("a value of the older generation was lost after one")
	}
	for i := 0; i < maxFreqEntries/2; i++ {
		f.set("x"+strconv.Itoa(i), freqEntry{share: 1})
	}
	if _, ok := f.get("kept"); !ok {
		t.Error("a value used in the last generation was dropped")
	}
	if _, ok := f.get("dropped"); ok {
		t.Error("a value unused for two generations was kept")
	}
	if len(f.entries)+len(f.older) > maxFreqEntries+1 {
		t.Errorf("the cache holds %d entries, bound %d", len(f.entries)+len(f.older), maxFreqEntries)
	}
}

// TestFrequencyFollowsGrowth: a registry filling up is counted again as it
// grows, long before the cache's time to live: counted at its first
// record, the total stayed 0 (no registry-size prior, no term
// frequencies) for ten minutes of a first load.
func TestFrequencyFollowsGrowth(t *testing.T) {
	_, svc, m, _ := open(t)
	ctx := context.Background()
	if n := m.tf.total(ctx, "Patient"); n != 0 {
		t.Fatalf("empty registry: total %d", n)
	}
	m.tf.minRecords = 20
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Smith","given":["Ann"]}]}`)
	if got := m.tf.lookup(ctx, "Patient", "family", "smith"); got != 0 {
		t.Fatalf("share of smith %v among 1 record, want 0 (unknown below %d records)", got, m.tf.minRecords)
	}
	for i := range 39 {
		family := "Jones"
		if i%4 == 0 {
			family = "Smith"
		}
		create(t, svc, `{"resourceType":"Patient","name":[{"family":"`+family+`","given":["P`+strconv.Itoa(i)+`"]}]}`)
	}
	n := m.tf.total(ctx, "Patient")
	if n < 36 || n > 40 {
		t.Errorf("total %d after 40 creates: not counted again as the registry grew", n)
	}
	// 11 Smiths of 40: the share is counted again at a tenth of growth,
	// not kept from the first record (unknown).
	if got := m.tf.lookup(ctx, "Patient", "family", "smith"); got < 0.2 || got > 0.35 {
		t.Errorf("share of smith %v, want about 11/40", got)
	}
}
