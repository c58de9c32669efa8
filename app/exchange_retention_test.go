package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// Delivered events older than the retention are pruned; numbering goes on,
// $events and resend of a pruned number answer 410 with an
// OperationOutcome saying so, and an event not yet delivered is never
// pruned, however old.
func TestEventRetention(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			rcv := newReceiver(t)
			s := startWith(t, sqltest.DSN(t, kind), func(c *Config) {
				c.OutboundAllow = rcv.host()
				c.RetryMin, c.RetryMax = 20*time.Millisecond, 200*time.Millisecond
				c.EventRetention = 300 * time.Millisecond
			})
			id := s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient", rcv.URL, "id-only")).json(t)["id"].(string)
			for i := 0; i < 10; i++ {
				s.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Kept%d"}]}`, i))
			}
			waitFor(t, "10 events delivered", 30*time.Second, func() bool { n, ok := rcv.distinct(); return n == 10 && ok })
			var ev *response
			waitFor(t, "events 1 to 10 pruned", 30*time.Second, func() bool {
				ev = s.do("GET", "/Subscription/"+id+"/$events?eventsSinceNumber=1", "")
				return ev.status == 410 && strings.Contains(string(ev.body), "events 1 to 10") && strings.Contains(string(ev.body), "retention")
			})
			if !strings.Contains(string(ev.body), "OperationOutcome") {
				t.Fatalf("$events of pruned numbers: %s", ev.body)
			}
			// The receiver is down: event 11 waits, undelivered, past the
			// retention, and is kept.
			rcv.down.Store(true)
			s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Waiting"}]}`)
			calls := rcv.calls.Load()
			waitFor(t, "retries past the retention", 30*time.Second, func() bool { return rcv.calls.Load() > calls+3 })
			time.Sleep(600 * time.Millisecond)
			if n := eventsSoFar(t, s.URL()+"/fhir", id); n != 11 {
				t.Fatalf("events-since-subscription-start = %d, want 11", n)
			}
			ev = s.do("GET", "/Subscription/"+id+"/$events", "")
			if ev.status != 200 || strings.Count(string(ev.body), `"event-number"`) != 1 || !strings.Contains(string(ev.body), `"valueString":"11"`) {
				t.Fatalf("$events without a start: %d %s", ev.status, ev.body)
			}
			if st, out := s.admin("POST", "/subscriptions/"+id+"/resend?from=3", ""); st != 410 || !strings.Contains(fmt.Sprint(out), "retention") {
				t.Fatalf("resend of a pruned event: %d %v", st, out)
			}
			rcv.down.Store(false)
			waitFor(t, "event 11 after the outage", 30*time.Second, func() bool { n, ok := rcv.distinct(); return n == 11 && ok })
		})
	}
}
