package app

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// benchN is the size of the exchange benchmarks (IDEM_BENCH_N, default def).
func benchN(def int) int {
	if n, err := strconv.Atoi(os.Getenv("IDEM_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return def
}

// patientBundle is a transaction Bundle of n new Patients, distinct
// people (names and birth dates vary, so blocking keeps candidate sets small).
func patientBundle(prefix string, from, n int) string {
	given := []string{"Ann", "Bob", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lia"}
	var es []string
	for i := from; i < from+n; i++ {
		birth := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i*37%30000).Format("2006-01-02")
		es = append(es, fmt.Sprintf(`{"resource":{"resourceType":"Patient","identifier":[{"system":"http://bench.example/mrn","value":"%s%d"}],"name":[{"family":"%s%s","given":["%s"]}],"birthDate":"%s"},"request":{"method":"POST","url":"Patient"}}`,
			prefix, i, letters(i), "", given[i%len(given)], birth))
	}
	return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`
}

// letters spells a distinct, pronounceable-enough family name for i.
func letters(i int) string {
	const cons, vow = "bcdfghklmnprstvz", "aeiou"
	x := uint32(i)*2654435761 + 12345
	var b []byte
	for k := 0; k < 4; k++ {
		b = append(b, cons[x%16], vow[(x/16)%5])
		x /= 80
		x += uint32(i) * 40503
	}
	return strings.ToUpper(string(b[:1])) + string(b[1:])
}

// Commit-to-receiver latency at 100 writes/s: single Patient creates, one
// every 10 ms, each event's arrival at the receiver minus the moment its
// write was acknowledged.
func BenchmarkNotifyLatency(b *testing.B) {
	rcv := newReceiver(&testing.T{})
	defer rcv.Close()
	t := &testing.T{}
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.OutboundAllow = rcv.host() })
	s.t = t
	s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only"))
	n := benchN(500)
	acked := map[string]time.Time{}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		<-tick.C
		r := s.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Lat%d"}]}`, i))
		acked["Patient/"+r.json(t)["id"].(string)] = time.Now()
	}
	deadline := time.Now().Add(time.Minute)
	for k, _ := rcv.distinct(); k < n && time.Now().Before(deadline); k, _ = rcv.distinct() {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var lat []time.Duration
	for num, ref := range rcv.focus {
		at := acked[ref[strings.Index(ref, "Patient/"):]]
		lat = append(lat, max(0, rcv.arrived[num].Sub(at)))
	}
	slices.Sort(lat)
	if len(lat) < n {
		b.Fatalf("%d of %d events arrived", len(lat), n)
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// Notifications to one receiver per second: n events queued while the
// receiver is down, then drained. IDEM_BENCH_MAXCOUNT=1 sends one event
// per notification; the default batches up to 100.
func BenchmarkNotificationsPerSecond(b *testing.B) {
	t := &testing.T{}
	rcv := newReceiver(t)
	defer rcv.Close()
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) {
		c.OutboundAllow = rcv.host()
		c.RetryMin, c.RetryMax = time.Millisecond, 50*time.Millisecond
	})
	s.t = t
	sub := subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only")
	if mc := os.Getenv("IDEM_BENCH_MAXCOUNT"); mc != "" {
		sub = strings.Replace(sub, `"channel":{`, `"channel":{"extension":[{"url":"`+exchange.IG+`backport-max-count","valuePositiveInt":`+mc+`}],`, 1)
	}
	r := s.do("POST", "/Subscription", sub)
	id := r.json(t)["id"].(string)
	waitFor(t, "handshake", 10*time.Second, func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.types["handshake"] == 1 })
	rcv.down.Store(true)
	n := benchN(5000)
	for i := 0; i < n; i += 500 {
		s.do("POST", "", patientBundle("Rate", i, min(500, n-i)))
	}
	base := s.base
	for eventsSoFar(t, base, id) < n {
		time.Sleep(20 * time.Millisecond)
	}
	calls := rcv.calls.Load()
	b.ResetTimer()
	start := time.Now()
	rcv.down.Store(false)
	for k, _ := rcv.distinct(); k < n; k, _ = rcv.distinct() {
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/el.Seconds(), "events/s")
	b.ReportMetric(float64(rcv.calls.Load()-calls)/el.Seconds(), "posts/s")
}

// A pull of n records from a peer, through the linked write pipeline.
func BenchmarkPull(b *testing.B) {
	t := &testing.T{}
	edit := func(c *Config) { c.OutboundAllow = "127.0.0.1" }
	a, peer := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	a.t, peer.t = t, t
	n := benchN(5000)
	for i := 0; i < n; i += 500 {
		peer.do("POST", "", patientBundle("Pull", i, min(500, n-i)))
	}
	a.addClient(`{"name":"peer","system":"http://peer.example","roles":["source"]}`)
	b.ResetTimer()
	start := time.Now()
	r := a.do("POST", "/Endpoint", endpointJSON(peer.base, "peer", "http://peer.example", testAdminToken, "3600", "Patient"))
	ep := r.json(t)["id"].(string)
	r = a.do("POST", "/Endpoint/"+ep+"/$sync", "")
	for !strings.Contains(string(a.do("GET", "/Patient?_summary=count", "").body), fmt.Sprintf(`"total":%d`, n)) {
		time.Sleep(50 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/el.Seconds(), "records/s")
}
