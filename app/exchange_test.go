package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// A subscription gets its handshake, then exactly its matching events, in
// order and numbered; $status and $events report them; bad input and
// other clients are refused.
func TestSubscriptionDelivers(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			rcv := newReceiver(t)
			s := startWith(t, sqltest.DSN(t, kind), func(c *Config) {
				c.OutboundAllow = rcv.host()
				c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
			})
			r := s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", rcv.URL, "full-resource", "Patient?identifier=http://hospital.example/mrn|"))
			if r.status != 201 {
				t.Fatalf("create subscription: %d %s", r.status, r.body)
			}
			sub := r.json(t)
			id := sub["id"].(string)
			if strings.Contains(string(r.body), "receiver-secret") {
				t.Fatal("a channel header's value was returned")
			}
			const n = 20
			for i := 0; i < n; i++ {
				mrn := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://hospital.example/mrn","value":"M%d"}],"name":[{"family":"Sub%d"}]}`, i, i)
				other := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://other.example/id","value":"O%d"}],"name":[{"family":"Other%d"}]}`, i, i)
				for _, body := range []string{mrn, other} {
					if got := s.do("POST", "/Patient", body); got.status != 201 {
						t.Fatalf("create patient: %d %s", got.status, got.body)
					}
				}
			}
			waitFor(t, "20 events", 60*time.Second, func() bool { k, ok := rcv.distinct(); return k == n && ok })
			rcv.mu.Lock()
			if rcv.types["handshake"] != 1 {
				t.Errorf("handshakes = %d", rcv.types["handshake"])
			}
			rcv.mu.Unlock()
			st := s.do("GET", "/Subscription/"+id+"/$status", "")
			if st.status != 200 || !strings.Contains(string(st.body), `"valueString":"20"`) || !strings.Contains(string(st.body), `"active"`) {
				t.Fatalf("$status: %d %s", st.status, st.body)
			}
			ev := s.do("GET", "/Subscription/"+id+"/$events?eventsSinceNumber=5&eventsUntilNumber=7", "")
			if ev.status != 200 || strings.Count(string(ev.body), `"event-number"`) != 3 || strings.Count(string(ev.body), `"resourceType":"Patient"`) != 3 {
				t.Fatalf("$events 5..7: %d %s", ev.status, ev.body)
			}
			for _, c := range []struct {
				method, path, body string
				status             int
			}{
				{"POST", "/Subscription", `{"resourceType":"Subscription"`, 400},
				{"POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", "http://evil.example/hook", "id-only"), 422},
				{"POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"nope", rcv.URL, "id-only"), 422},
				{"POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", rcv.URL, "everything"), 422},
				{"POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", rcv.URL, "id-only", "Patient?birthdate=2000"), 400},
				{"GET", "/Subscription/" + id + "/$events?eventsSinceNumber=x", "", 400},
				{"GET", "/Subscription/unknown", "", 404},
				{"GET", "/Subscription/" + id, "", 401},
			} {
				headers := []string{}
				if c.status == 401 {
					headers = []string{"Authorization", ""}
				}
				got := s.do(c.method, c.path, c.body, headers...)
				if got.status != c.status || !strings.Contains(string(got.body), "OperationOutcome") {
					t.Errorf("%s %s: %d %s, want %d with an OperationOutcome", c.method, c.path, got.status, got.body, c.status)
				}
			}
			if list := s.do("GET", "/Subscription", ""); list.status != 200 || !strings.Contains(string(list.body), id) {
				t.Fatalf("search: %d", list.status)
			}
			if st, out := s.admin("GET", "/subscriptions", ""); st != 200 || !strings.Contains(fmt.Sprint(out), id) {
				t.Fatalf("admin delivery list: %d %v", st, out)
			}
			if st, _ := s.admin("POST", "/subscriptions/"+id+"/resend?from=19", ""); st != 204 {
				t.Fatalf("resend: %d", st)
			}
			waitFor(t, "resent events 19 and 20", 10*time.Second, func() bool {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				return rcv.seen[19] == 2 && rcv.seen[20] == 2
			})
			if st, _ := s.admin("POST", "/subscriptions/"+id+"/resend?from=x", ""); st != 400 {
				t.Fatalf("bad resend: %d", st)
			}
			meta := s.do("GET", "/metadata", "")
			if !strings.Contains(string(meta.body), "capabilitystatement-subscriptiontopic-canonical") {
				t.Fatal("CapabilityStatement lists no topics")
			}
		})
	}
}

// A linking decision's golden-record events reach a golden-topic subscriber.
func TestGoldenRecordEvents(t *testing.T) {
	rcv := newReceiver(t)
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.OutboundAllow = rcv.host() })
	if r := s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"golden-created", rcv.URL, "id-only")); r.status != 201 {
		t.Fatalf("subscription: %d %s", r.status, r.body)
	}
	s.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://g.example","value":"1"}],"name":[{"family":"Golden","given":["Gail"]}],"birthDate":"1961-02-03"}`)
	waitFor(t, "golden-created", 10*time.Second, func() bool { n, _ := rcv.distinct(); return n == 1 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if !strings.Contains(rcv.focus[1], "Person/") {
		t.Fatalf("golden event focus = %q", rcv.focus[1])
	}
}
