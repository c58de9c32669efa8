package policy

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket per principal name. Buckets live in a sync.Map
// and each has its own mutex, so principals never wait for each other.
type Limiter struct {
	rate    float64 // tokens per second; 0 or less: unlimited
	burst   float64
	now     func() time.Time
	buckets sync.Map // name → *bucket
}

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter allowing rate requests per second per name,
// with bursts of up to burst (0: twice the rate, at least 1). A rate of 0
// allows everything. now is the clock (nil: time.Now).
func NewLimiter(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	b := float64(burst)
	if b <= 0 {
		b = math.Max(1, math.Ceil(2*rate))
	}
	return &Limiter{rate: rate, burst: b, now: now}
}

// Allow takes a token from name's bucket: ok, or how long until one is there.
func (l *Limiter) Allow(name string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	v, found := l.buckets.Load(name)
	if !found {
		v, _ = l.buckets.LoadOrStore(name, &bucket{tokens: l.burst, last: l.now()})
	}
	b := v.(*bucket)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Millisecond)
}
