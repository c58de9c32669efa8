package app

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// endpointJSON is an Endpoint for peer base, pulling types as client.
func endpointJSON(base, client, system, token, every string, types ...string) string {
	exts := []string{`{"url":"` + exchange.ExtClient + `","valueString":"` + client + `"}`,
		`{"url":"` + exchange.ExtSourceSystem + `","valueUri":"` + system + `"}`,
		`{"url":"` + exchange.ExtBearerToken + `","valueString":"` + token + `"}`,
		`{"url":"` + exchange.ExtPullEvery + `","valueUnsignedInt":` + every + `}`}
	for _, t := range types {
		exts = append(exts, `{"url":"`+exchange.ExtPullType+`","valueCode":"`+t+`"}`)
	}
	return `{"resourceType":"Endpoint","status":"active","name":"Peer","extension":[` + strings.Join(exts, ",") + `],
	"connectionType":{"system":"http://terminology.hl7.org/CodeSystem/endpoint-connection-type","code":"hl7-fhir-rest"},
	"payloadType":[{"text":"FHIR R4"}],"address":"` + base + `"}`
}

// A pulls B's Patients through its write pipeline (creates, updates and
// deletes, deduplicated by version); B subscribes to A's Practitioners and
// pulls when A notifies it (the source of truth's read-only copies).
func TestPullAndNotifiedPull(t *testing.T) {
	edit := func(c *Config) {
		c.OutboundAllow = "127.0.0.1"
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
	}
	a, b := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	var ids []string
	for _, fam := range []string{"Peerson", "Pullman", "Fetcher"} {
		r := b.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://b.example/mrn","value":"`+fam+`"}],"name":[{"family":"`+fam+`"}]}`)
		ids = append(ids, r.json(t)["id"].(string))
	}
	a.addClient(`{"name":"peer-b","system":"http://b.example","roles":["source"]}`)
	// Deletions on the peer become deletions here, which the policy must allow.
	if st, out := a.admin("POST", "/rules", `{"rule":"p, client:peer-b, Patient, *, delete, allow"}`); st >= 300 {
		t.Fatalf("rule: %d %v", st, out)
	}
	r := a.do("POST", "/Endpoint", endpointJSON(b.base, "peer-b", "http://b.example", testAdminToken, "3600", "Patient"))
	if r.status != 201 || strings.Contains(string(r.body), testAdminToken) {
		t.Fatalf("endpoint: %d %s", r.status, r.body)
	}
	ep := r.json(t)["id"].(string)
	sync := func(want string) {
		t.Helper()
		got := a.do("POST", "/Endpoint/"+ep+"/$sync", "")
		if got.status != 200 || !strings.Contains(compact(string(got.body)), want) {
			t.Fatalf("$sync: %d %s, want %s", got.status, got.body, want)
		}
	}
	sync(`{"name":"pages"`) // the worker may have pulled already: a new Endpoint is pulled at once
	if got := a.do("GET", "/Patient?identifier=http://b.example/mrn|", ""); !strings.Contains(string(got.body), `"total":3`) {
		t.Fatalf("pulled Patient not found on A: %s", got.body)
	}
	b.do("PUT", "/Patient/"+ids[0], `{"resourceType":"Patient","id":"`+ids[0]+`","identifier":[{"system":"http://b.example/mrn","value":"Peerson"}],"name":[{"family":"Peersen"}]}`)
	b.do("DELETE", "/Patient/"+ids[1], "")
	sync(`{"name":"updated","valueInteger":1},{"name":"deleted","valueInteger":1}`)
	if got := a.do("GET", "/Patient/"+exchange.LocalID(ep, "Patient", ids[1]), ""); got.status != 410 {
		t.Fatalf("deleted on B, on A: %d", got.status)
	}
	if got := a.do("GET", "/Patient?family=Peersen", ""); !strings.Contains(string(got.body), `"total":1`) {
		t.Fatalf("update not pulled: %s", got.body)
	}
	if got := a.do("GET", "/Endpoint?connection-type=hl7-fhir-rest&status=active&name=pe", ""); !strings.Contains(string(got.body), `"total":1`) || !strings.Contains(string(got.body), "lastSuccess") {
		t.Fatalf("Endpoint search: %s", got.body)
	}
	// B keeps read-only copies of A's Practitioners: it pulls when notified.
	tokenOnB := b.addClient(`{"name":"peer-a","system":"http://a.example","roles":["source"]}`)
	r = b.do("POST", "/Endpoint", endpointJSON(a.base, "peer-a", "http://a.example", testAdminToken, "3600", "Practitioner"))
	epB := r.json(t)["id"].(string)
	sub := `{"resourceType":"Subscription","status":"requested","reason":"copies","criteria":"` + exchange.TopicBase + `practitioner",
	"channel":{"type":"rest-hook","endpoint":"` + b.base + `/Endpoint/` + epB + `/$notify","payload":"application/fhir+json",
	"header":["Authorization: Bearer ` + tokenOnB + `"]}}`
	if got := a.do("POST", "/Subscription", sub); got.status != 201 {
		t.Fatalf("subscription on A: %d %s", got.status, got.body)
	}
	a.do("POST", "/Practitioner", `{"resourceType":"Practitioner","identifier":[{"system":"http://a.example/npi","value":"1"}],"name":[{"family":"Notified"}]}`)
	waitFor(t, "B's notified pull", 20*time.Second, func() bool {
		return strings.Contains(string(b.do("GET", "/Practitioner?family=Notified", "").body), `"total":1`)
	})
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/Endpoint", `{"resourceType":"Endpoint"}`, 422},
		{"POST", "/Endpoint", `not json`, 400},
		{"GET", "/Endpoint?bogus=1", "", 400},
		{"POST", "/Endpoint/nope/$sync", "", 404},
		{"POST", "/Endpoint/" + ep + "/$notify", "", 403},
	} {
		h := []string{}
		if c.status == 403 {
			h = bearer(tokenOnB)
			c.path = "/Endpoint/" + epB + "/$notify"
			got := a.do(c.method, c.path, c.body, h...)
			if got.status != 401 && got.status != 404 {
				t.Errorf("a token of B on A: %d", got.status)
			}
			continue
		}
		if got := a.do(c.method, c.path, c.body, h...); got.status != c.status || !strings.Contains(string(got.body), "OperationOutcome") {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, got.status, got.body, c.status)
		}
	}
}

// A notification that arrives while a pull from the same peer runs is not
// lost: the running pull read the peer's history before the notified
// change, so the peer is pulled again as soon as it ends, not at its next
// interval (an hour here). B pulls A's Practitioners through a proxy that
// holds the first history page it fetched until A's notification of a
// new Practitioner has reached B.
func TestNotificationDuringPull(t *testing.T) {
	edit := func(c *Config) {
		c.OutboundAllow = "127.0.0.1"
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
	}
	a, b := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	target, _ := url.Parse(strings.TrimSuffix(a.base, "/fhir"))
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.Contains(r.Request.URL.Path, "/_history") {
			once.Do(func() { close(held); <-release }) // A's answer is read; B gets it later
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	var notified atomic.Int64 // $notify calls B answered
	notifyTarget, _ := url.Parse(strings.TrimSuffix(b.base, "/fhir"))
	notifyProxy := httputil.NewSingleHostReverseProxy(notifyTarget)
	notifyProxy.ModifyResponse = func(r *http.Response) error {
		if strings.HasSuffix(r.Request.URL.Path, "/$notify") && r.StatusCode == 200 {
			notified.Add(1)
		}
		return nil
	}
	notifyFront := httptest.NewServer(notifyProxy)
	defer notifyFront.Close()

	tokenOnB := b.addClient(`{"name":"peer-a","system":"http://a.example","roles":["source"]}`)
	r := b.do("POST", "/Endpoint", endpointJSON(front.URL+"/fhir", "peer-a", "http://a.example", testAdminToken, "3600", "Practitioner"))
	if r.status != 201 {
		t.Fatalf("endpoint: %d %s", r.status, r.body)
	}
	epB := r.json(t)["id"].(string)
	select { // B's first pull (a new Endpoint is pulled at once) has A's empty history in hand
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("B did not pull A")
	}
	sub := `{"resourceType":"Subscription","status":"requested","reason":"copies","criteria":"` + exchange.TopicBase + `practitioner",
	"channel":{"type":"rest-hook","endpoint":"` + notifyFront.URL + `/fhir/Endpoint/` + epB + `/$notify","payload":"application/fhir+json",
	"header":["Authorization: Bearer ` + tokenOnB + `"]}}`
	if got := a.do("POST", "/Subscription", sub); got.status != 201 {
		t.Fatalf("subscription on A: %d %s", got.status, got.body)
	}
	waitFor(t, "the subscription's handshake", 20*time.Second, func() bool { return notified.Load() > 0 })
	before := notified.Load()
	a.do("POST", "/Practitioner", `{"resourceType":"Practitioner","identifier":[{"system":"http://a.example/npi","value":"2"}],"name":[{"family":"Meanwhile"}]}`)
	waitFor(t, "A's notification of the new Practitioner", 20*time.Second, func() bool { return notified.Load() > before })
	close(release)
	waitFor(t, "B's pull after the notification", 20*time.Second, func() bool {
		return strings.Contains(string(b.do("GET", "/Practitioner?family=Meanwhile", "").body), `"total":1`)
	})
}
