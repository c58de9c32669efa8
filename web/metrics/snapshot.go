package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sample is one value of a Snapshot with its label values, in the order of
// the Snapshot's labels.
type Sample struct {
	Labels []string
	Value  float64
}

// Snapshot is a gauge family read from somewhere slow (the database) when
// Prometheus scrapes, and reused for a while so that frequent scrapes, or
// several scrapers, cost one query per TTL.
type Snapshot struct {
	desc  *prometheus.Desc
	read  func(ctx context.Context) ([]Sample, error)
	ttl   time.Duration
	now   func() time.Time
	limit time.Duration // how long one read may take

	mu   sync.Mutex
	at   time.Time
	last []Sample
}

// NewSnapshot returns a gauge family name with labels whose values read
// returns, cached for ttl. A failed read keeps the last values.
func NewSnapshot(name, help string, labels []string, ttl time.Duration, read func(ctx context.Context) ([]Sample, error)) *Snapshot {
	return &Snapshot{desc: prometheus.NewDesc(name, help, labels, nil), read: read, ttl: ttl, now: time.Now, limit: 5 * time.Second}
}

// Describe implements prometheus.Collector.
func (s *Snapshot) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect implements prometheus.Collector.
func (s *Snapshot) Collect(ch chan<- prometheus.Metric) {
	for _, v := range s.samples() {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, v.Value, v.Labels...)
	}
}

func (s *Snapshot) samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && s.now().Sub(s.at) < s.ttl {
		return s.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.limit)
	defer cancel()
	if fresh, err := s.read(ctx); err == nil {
		s.last = fresh
	}
	s.at = s.now() // a failing database is asked again only after ttl, too
	return s.last
}
