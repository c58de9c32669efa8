package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// skewed sets an instance's clock off by d (writes, subscriptions, pulls).
func skewed(d time.Duration, edit ...func(*Config)) func(*Config) {
	return func(c *Config) {
		c.now = func() time.Time { return time.Now().Add(d) }
		c.OutboundAllow = "127.0.0.1"
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
		for _, e := range edit {
			e(c)
		}
	}
}

// pauseExchange stops an instance's delivery worker; the returned func
// starts it again.
func pauseExchange(s *testServer) func() {
	s.stopEx()
	<-s.exDone
	return s.startExchange
}

// Two instances on one PostgreSQL database whose clocks are 3 minutes
// ahead and 3 minutes behind. A change waiting in the outbox when a
// subscription is made is not its event, although its time (the ahead
// clock) is later than the subscription's (the behind one); every change
// made after a subscription is its event, although its time (the behind
// clock) is earlier than the subscription's (the ahead one). Each is
// delivered once.
func TestSubscriptionCutoffClockSkew(t *testing.T) {
	dsn := sqltest.DSN(t, "postgres")
	ahead, behind := startWith(t, dsn, skewed(3*time.Minute)), startWith(t, dsn, skewed(-3*time.Minute))
	resumeA, resumeB := pauseExchange(ahead), pauseExchange(behind)
	r := ahead.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Before"}]}`)
	if r.status != 201 {
		t.Fatalf("write before: %d %s", r.status, r.body)
	}
	before := r.json(t)["id"].(string)
	var n int64
	ahead.store.ReadDB().Raw(`SELECT COUNT(*) FROM outbox`).Scan(&n)
	if n == 0 {
		t.Fatal("the change made before the subscriptions is not waiting in the outbox")
	}
	onBehind, onAhead := newReceiver(t), newReceiver(t)
	for _, c := range []struct {
		s   *testServer
		rcv *receiver
	}{{behind, onBehind}, {ahead, onAhead}} {
		if r := c.s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient", c.rcv.URL, "id-only")); r.status != 201 {
			t.Fatalf("subscription: %d %s", r.status, r.body)
		}
	}
	resumeA()
	resumeB()
	const each = 10
	for i := 0; i < each; i++ {
		for _, s := range []*testServer{ahead, behind} {
			if r := s.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"After%d"}]}`, i)); r.status != 201 {
				t.Fatalf("write after: %d", r.status)
			}
		}
	}
	for name, rcv := range map[string]*receiver{"subscription made on the instance behind": onBehind, "subscription made on the instance ahead": onAhead} {
		waitFor(t, name+": 20 events", 30*time.Second, func() bool { n, ok := rcv.distinct(); return n >= 2*each && ok })
	}
	time.Sleep(300 * time.Millisecond) // a late duplicate or extra event, if any, arrives
	for name, rcv := range map[string]*receiver{"behind": onBehind, "ahead": onAhead} {
		rcv.mu.Lock()
		if len(rcv.seen) != 2*each {
			t.Errorf("subscription made on the instance %s: %d events, want %d", name, len(rcv.seen), 2*each)
		}
		for num, times := range rcv.seen {
			if times != 1 {
				t.Errorf("subscription made on the instance %s: event %d delivered %d times", name, num, times)
			}
			if strings.Contains(rcv.focus[num], before) {
				t.Errorf("subscription made on the instance %s: got the change made before it", name)
			}
		}
		rcv.mu.Unlock()
	}
}

// syncCounts runs $sync of Endpoint ep on s and returns its counts.
func syncCounts(t *testing.T, s *testServer, ep string) map[string]int {
	t.Helper()
	r := s.do("POST", "/Endpoint/"+ep+"/$sync", "")
	if r.status != 200 {
		t.Fatalf("$sync: %d %s", r.status, r.body)
	}
	var p struct {
		Parameter []struct {
			Name         string
			ValueInteger int
		}
	}
	json.Unmarshal(r.body, &p)
	out := map[string]int{}
	for _, x := range p.Parameter {
		out[x.Name] = x.ValueInteger
	}
	return out
}

// dateSkewProxy forwards to target with the Date header of each answer
// moved by d: a peer answering from a clock that is off.
func dateSkewProxy(t *testing.T, target string, d time.Duration) string {
	u, _ := url.Parse(target)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if at, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			resp.Header.Set("Date", at.Add(d).UTC().Format(http.TimeFormat))
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The peer is two instances on one PostgreSQL database, one 3 minutes
// ahead. A record it writes moves the puller's cursor 3 minutes ahead of
// what the other writes next; those records are still pulled, whether
// the peer answers from a right clock (the cursor stays at its clock) or
// from the one ahead (the overlap covers it); pulling again applies
// nothing twice.
func TestPullFromSkewedPeer(t *testing.T) {
	dsn := sqltest.DSN(t, "postgres")
	fast, right := startWith(t, dsn, skewed(3*time.Minute)), startWith(t, dsn, skewed(0))
	for i, c := range []struct {
		name string
		base string
	}{
		{"answered by a right clock", right.base},
		{"answered by the clock ahead", dateSkewProxy(t, fast.URL(), 3*time.Minute) + "/fhir"},
	} {
		t.Run(c.name, func(t *testing.T) {
			puller := startWith(t, sqltest.DSN(t, "sqlite"), skewed(0))
			puller.addClient(`{"name":"peer-p","system":"http://p.example","roles":["source"]}`)
			r := puller.do("POST", "/Endpoint", endpointJSON(c.base, "peer-p", "http://p.example", testAdminToken, "3600", "Patient"))
			if r.status != 201 {
				t.Fatalf("Endpoint: %d %s", r.status, r.body)
			}
			ep := r.json(t)["id"].(string)
			syncCounts(t, puller, ep) // after it the worker leaves the peer to $sync (pull every hour)
			family := fmt.Sprint("Skew", i)
			write := func(s *testServer, method, path, fam string) string {
				t.Helper()
				r := s.do(method, path, `{"resourceType":"Patient",`+idOf(path)+`"identifier":[{"system":"http://p.example/mrn","value":"`+fam+`"}],"name":[{"family":"`+fam+`"}]}`)
				if r.status >= 300 {
					t.Fatalf("%s %s on the peer: %d %s", method, path, r.status, r.body)
				}
				return r.json(t)["id"].(string)
			}
			x := write(fast, "POST", "/Patient", "X"+family) // dated 3 minutes ahead
			if got := syncCounts(t, puller, ep); got["created"] != 1 {
				t.Fatalf("pull of X: %v", got)
			}
			y := write(right, "POST", "/Patient", "Y"+family) // dated before X
			if got := syncCounts(t, puller, ep); got["created"] != 1 || got["updated"] != 0 {
				t.Fatalf("pull of Y, written after X by the right clock: %v", got)
			}
			write(right, "PUT", "/Patient/"+x, "X2"+family) // version 2 of X, dated before version 1
			if got := syncCounts(t, puller, ep); got["created"] != 0 || got["updated"] != 1 {
				t.Fatalf("pull of X's version 2: %v", got)
			}
			for i := 0; i < 2; i++ {
				if got := syncCounts(t, puller, ep); got["created"]+got["updated"]+got["deleted"] != 0 || got["skipped"] < 2 {
					t.Fatalf("pull again: %v (the overlap re-reads, nothing is applied twice)", got)
				}
			}
			for id, version := range map[string]string{x: "2", y: "1"} {
				got := puller.do("GET", "/Patient/"+exchange.LocalID(ep, "Patient", id), "")
				if got.status != 200 || got.json(t)["meta"].(map[string]any)["versionId"] != version {
					t.Fatalf("pulled Patient %s: %d %s, want version %s", id, got.status, got.body, version)
				}
			}
		})
	}
}

// idOf is the "id" member of a body PUT to path ("" for a POST).
func idOf(path string) string {
	if i := strings.LastIndex(path, "/"); i > 0 {
		return `"id":"` + path[i+1:] + `",`
	}
	return ""
}

// Heartbeats of an instance whose clock is 3 minutes behind the others'
// (and the database's, which leases use) still leave on time.
func TestHeartbeatClockSkew(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			s := startWith(t, sqltest.DSN(t, kind), skewed(-3*time.Minute, func(c *Config) { c.Heartbeat = time.Second }))
			rcv := newReceiver(t)
			sub := strings.Replace(subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only"), `"channel":{"type":"rest-hook",`,
				`"channel":{"extension":[{"url":"`+exchange.IG+`backport-heartbeat-period","valueUnsignedInt":1}],"type":"rest-hook",`, 1)
			if r := s.do("POST", "/Subscription", sub); r.status != 201 {
				t.Fatalf("subscription: %d %s", r.status, r.body)
			}
			waitFor(t, "two heartbeats", 20*time.Second, func() bool {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				return rcv.types["heartbeat"] >= 2
			})
		})
	}
}
