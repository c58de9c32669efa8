package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a real webhook endpoint on loopback: it records every
// notification's type and event numbers, and can be made to fail.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	types   map[string]int      // notification type → count
	seen    map[int64]int       // event number → times received
	focus   map[int64]string    // event number → focus reference
	bodies  []map[string]any    // every notification
	arrived map[int64]time.Time // event number → first arrival
	down    atomic.Bool         // answer 503
	calls   atomic.Int64
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{types: map[string]int{}, seen: map[int64]int{}, focus: map[int64]string{}, arrived: map[int64]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.Close)
	return r
}

// host is the receiver's host:port, for IDEM_OUTBOUND_ALLOW.
func (r *receiver) host() string { return strings.TrimPrefix(r.URL, "http://") }

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		w.WriteHeader(400)
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, b)
	entries, _ := b["entry"].([]any)
	params := entries[0].(map[string]any)["resource"].(map[string]any)["parameter"].([]any)
	for _, p := range params {
		pm := p.(map[string]any)
		switch pm["name"] {
		case "type":
			r.types[pm["valueCode"].(string)]++
		case "notification-event":
			var n int64
			var focus string
			for _, part := range pm["part"].([]any) {
				pp := part.(map[string]any)
				switch pp["name"] {
				case "event-number":
					n, _ = strconv.ParseInt(pp["valueString"].(string), 10, 64)
				case "focus":
					focus = pp["valueReference"].(map[string]any)["reference"].(string)
				}
			}
			r.seen[n]++
			r.focus[n] = focus
			if _, ok := r.arrived[n]; !ok {
				r.arrived[n] = now
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// distinct returns how many distinct event numbers arrived and whether
// they are exactly 1..n.
func (r *receiver) distinct() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := int64(1); i <= int64(len(r.seen)); i++ {
		if r.seen[i] == 0 {
			return len(r.seen), false
		}
	}
	return len(r.seen), true
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscriptionJSON is a backport Subscription to topic at endpoint.
func subscriptionJSON(topic, endpoint, content string, filters ...string) string {
	var fs []string
	for _, f := range filters {
		fs = append(fs, `{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"`+f+`"}`)
	}
	crit := ""
	if len(fs) > 0 {
		crit = `"_criteria":{"extension":[` + strings.Join(fs, ",") + `]},`
	}
	return `{"resourceType":"Subscription","status":"requested","reason":"test","criteria":"` + topic + `",` + crit + `
	"channel":{"type":"rest-hook","endpoint":"` + endpoint + `","payload":"application/fhir+json",
	"_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":"` + content + `"}]},
	"header":["Authorization: Bearer receiver-secret"]}}`
}
