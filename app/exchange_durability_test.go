package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// startChildEnv is startChild with extra environment variables.
func startChildEnv(t *testing.T, dbPath, addr string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "IDEM_TEST_CHILD=1", "IDEM_DB="+dbPath, "IDEM_ADDR="+addr, "IDEM_LOG_LEVEL=error", "IDEM_SEED=false",
		"IDEM_ADMIN_TOKEN="+testAdminToken, "IDEM_ADMIN_PASSWORD="+testAdminPassword, "IDEM_RATE=0")
	cmd.Env = append(cmd.Env, secretKeyEnv(dbPath)...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "child ready", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return cmd
}

// call sends one admin request to a server at base and returns status and body.
func call(method, url, body string) (int, []byte, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// eventsSoFar reads events-since-subscription-start from $status.
func eventsSoFar(t *testing.T, base, id string) int {
	t.Helper()
	st, body, err := call("GET", base+"/Subscription/"+id+"/$status", "")
	if err != nil || st != 200 {
		t.Fatalf("$status: %d %v", st, err)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				Parameter []struct {
					Name        string `json:"name"`
					ValueString string `json:"valueString"`
				} `json:"parameter"`
			} `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(body, &b)
	for _, p := range b.Entry[0].Resource.Parameter {
		if p.Name == "events-since-subscription-start" {
			n, _ := strconv.Atoi(p.ValueString)
			return n
		}
	}
	return -1
}

// kill -9 of the delivering instance mid-stream: after a restart the
// receiver holds every event number from 1 to the subscription's count,
// each acknowledged write among them.
func TestDeliveryAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rcv := newReceiver(t)
	dbPath := filepath.Join(t.TempDir(), "idem.db")
	addr := freeAddr(t)
	env := []string{"IDEM_OUTBOUND_ALLOW=" + rcv.host(), "IDEM_RETRY_MIN=50ms", "IDEM_RETRY_MAX=500ms"}
	child := startChildEnv(t, dbPath, addr, env...)
	base := "http://" + addr + "/fhir"
	st, body, _ := call("POST", base+"/Subscription", subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only"))
	if st != 201 {
		t.Fatalf("subscription: %d %s", st, body)
	}
	var sub map[string]any
	json.Unmarshal(body, &sub)
	id := sub["id"].(string)
	var mu sync.Mutex
	acked := map[string]bool{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				st, body, err := call("POST", base+"/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Kill%d_%d"}]}`, w, i))
				if err != nil {
					return
				}
				if st == 201 {
					var m map[string]any
					json.Unmarshal(body, &m)
					mu.Lock()
					acked["Patient/"+m["id"].(string)] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	waitFor(t, "deliveries under way", 20*time.Second, func() bool { n, _ := rcv.distinct(); return n >= 30 })
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	stop.Store(true)
	wg.Wait()
	startChildEnv(t, dbPath, addr, env...)
	// The restarted instance first numbers the outbox rows left by the
	// kill, then delivers: wait until every acknowledged write has its
	// event and the receiver holds 1..total.
	var total, dups int
	waitFor(t, "every event after the restart", 30*time.Second, func() bool {
		total = eventsSoFar(t, base, id)
		n, ok := rcv.distinct()
		if total < len(acked) || n != total || !ok {
			return false
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		got := map[string]bool{}
		dups = 0
		for n, times := range rcv.seen {
			dups += times - 1
			ref := rcv.focus[n]
			got[ref[strings.Index(ref, "Patient/"):]] = true
		}
		for ref := range acked {
			if !got[ref] {
				return false
			}
		}
		return true
	})
	t.Logf("%d events (%d acknowledged writes) delivered exactly once after dedup; %d duplicates resent after the kill", total, len(acked), dups)
}

// A receiver that is down for a while — IDEM_TEST_OUTAGE, 5s by default;
// the minute with IDEM_TEST_OUTAGE=1m — while writes go on gets
// everything afterwards, each event number once after dedup; retries go
// on to the end of the outage (nothing is given up), and the subscription
// shows the error meanwhile.
func TestDeliveryReceiverDown(t *testing.T) {
	outage := 5 * time.Second
	if v := os.Getenv("IDEM_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IDEM_TEST_OUTAGE: %v", err)
		}
		outage = d
	}
	rcv := newReceiver(t)
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) {
		c.OutboundAllow = rcv.host()
		c.RetryMin, c.RetryMax = 10*time.Millisecond, max(outage/20, 100*time.Millisecond)
	})
	r := s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only"))
	id := r.json(t)["id"].(string)
	waitFor(t, "handshake", 10*time.Second, func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.types["handshake"] == 1 })
	rcv.down.Store(true)
	start := time.Now()
	n := 0
	var lateCalls int64 = -1
	for time.Since(start) < outage {
		s.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Down%d"}]}`, n))
		n++
		if lateCalls < 0 && time.Since(start) > outage*3/4 {
			lateCalls = rcv.calls.Load()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := rcv.calls.Load(); got <= lateCalls {
		t.Fatalf("no delivery attempt in the last quarter of the outage (%d calls in all): retries stopped", got)
	}
	if st := s.do("GET", "/Subscription/"+id, ""); !strings.Contains(string(st.body), `"status":"error"`) {
		t.Fatalf("subscription during the outage: %s", st.body)
	}
	rcv.down.Store(false)
	waitFor(t, "every event after the outage", 60*time.Second, func() bool { k, ok := rcv.distinct(); return k == n && ok })
	waitFor(t, "status active after the outage", 10*time.Second, func() bool {
		return strings.Contains(string(s.do("GET", "/Subscription/"+id, "").body), `"status":"active"`)
	})
	t.Logf("receiver down %s, %d events written meanwhile, all delivered after", outage, n)
}

// Two instances on one PostgreSQL deliver each event exactly once.
func TestDeliveryTwoInstancesPostgres(t *testing.T) {
	if os.Getenv(sqltest.PostgresEnv) == "" {
		t.Skip(sqltest.PostgresEnv + " is not set")
	}
	rcv := newReceiver(t)
	dsn := sqltest.DSN(t, "postgres")
	edit := func(c *Config) {
		c.OutboundAllow = rcv.host()
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
	}
	a, b := startWith(t, dsn, edit), startWith(t, dsn, edit)
	if r := a.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only")); r.status != 201 {
		t.Fatalf("subscription: %d", r.status)
	}
	var wg sync.WaitGroup
	for w, s := range []*testServer{a, b, a, b} {
		wg.Add(1)
		go func(w int, s *testServer) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				s.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Two%d_%d"}]}`, w, i))
			}
		}(w, s)
	}
	wg.Wait()
	waitFor(t, "200 events", 30*time.Second, func() bool { n, ok := rcv.distinct(); return n == 200 && ok })
	time.Sleep(300 * time.Millisecond) // give a duplicate, if any, the chance to arrive
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for n, times := range rcv.seen {
		if times != 1 {
			t.Fatalf("event %d delivered %d times", n, times)
		}
	}
}
