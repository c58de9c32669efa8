package policy_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idem/policy"
)

func TestLimiter(t *testing.T) {
	clk := newClock()
	l := policy.NewLimiter(2, 3, clk.Now) // 2 per second, bursts of 3
	for i := range 3 {
		if ok, _ := l.Allow("lab-east"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("lab-east")
	if ok || wait != 500*time.Millisecond {
		t.Errorf("over the burst: ok=%v retry after %v, want 500ms", ok, wait)
	}
	if ok, _ := l.Allow("ehr-main"); !ok {
		t.Error("one client's bucket drained another's")
	}
	clk.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow("lab-east"); !ok {
		t.Error("refill refused")
	}
	if ok, _ := policy.NewLimiter(0, 0, nil).Allow("x"); !ok {
		t.Error("rate 0 should be unlimited")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	clk := newClock() // the clock stands still: exactly the burst gets through
	l := policy.NewLimiter(10, 50, clk.Now)
	var allowed [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				name := g % 4
				if ok, _ := l.Allow(fmt.Sprint("client-", name)); ok {
					allowed[name].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for i := range allowed {
		if n := allowed[i].Load(); n != 50 {
			t.Errorf("client-%d: %d allowed, want the burst of 50", i, n)
		}
	}
}
