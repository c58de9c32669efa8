package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"idem/registry/sqlstore/sqltest"
)

// A federated search on A asks A itself and its two peers: B answers, the
// third hangs past the timeout. The answer merges A's and B's records,
// collapses B's records that A pulled into the entries of the golden
// records their copies belong to, marks each entry's origin, carries an
// incomplete outcome naming the silent peer on every page, and pages
// from the set frozen at the start (a Patient created meanwhile does not
// appear). B records whom A asked for; A records what its client saw
// from where.
func TestFederatedSearchOnePeerDown(t *testing.T) {
	edit := func(c *Config) {
		c.OutboundAllow = "127.0.0.1"
		c.FederatedTimeout = 500 * time.Millisecond
		c.auditEvery = 20 * time.Millisecond
	}
	a, b := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	pat := func(v, family string) string {
		return `{"resourceType":"Patient","identifier":[{"system":"http://b.example/mrn","value":"` + v + `"}],"name":[{"family":"` + family + `","given":["Fay"]}],"birthDate":"1960-0` + v[len(v)-1:] + `-01"}`
	}
	for i, fam := range []string{"Fedder", "Fedwick", "Fedman"} {
		if r := b.do("POST", "/Patient", pat("b"+string(rune('1'+i)), fam)); r.status != 201 {
			t.Fatalf("B patient: %d %s", r.status, r.body)
		}
	}
	// B knows A as a peer whose client is peer-a: it believes A's on-behalf-of.
	tokenOnB := b.addClient(`{"name":"peer-a","system":"http://a.example","roles":["reader"]}`)
	b.do("POST", "/Endpoint", endpointJSON(a.base, "peer-a", "http://a.example", "unused", "3600"))
	a.addClient(`{"name":"peer-b","system":"http://b.example","roles":["source"]}`)
	ep := a.do("POST", "/Endpoint", endpointJSON(b.base, "peer-b", "http://b.example", tokenOnB, "3600", "Patient")).json(t)["id"].(string)
	if r := a.do("POST", "/Endpoint/"+ep+"/$sync", ""); r.status != 200 {
		t.Fatalf("$sync: %d %s", r.status, r.body)
	}
	// After the pull: one more on B (not pulled), one of A's own.
	b.do("POST", "/Patient", pat("b4", "Fedorov"))
	a.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Fedowa"}],"birthDate":"1950-01-01"}`)
	a.do("POST", "/Endpoint", endpointJSON(hang.URL+"/fhir", "peer-b", "http://b.example", "x", "3600"))
	viewer := a.addClient(`{"name":"viewer","system":"http://viewer.example","roles":["reader"]}`)

	first := a.do("GET", "/Patient?family=fed&_federated=true&_count=2", "", bearer(viewer)...)
	if first.status != 200 {
		t.Fatalf("federated search: %d %s", first.status, first.body)
	}
	keepResponse(t, "page1", first.body)
	page := first.json(t)
	if page["total"] != float64(5) {
		t.Fatalf("total %v, want 5 (3 pulled and collapsed, 1 only on B, 1 only on A): %s", page["total"], first.body)
	}
	// A Patient created now is not in the frozen set.
	a.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Fedlate"}]}`)
	seen := map[string]bool{}
	collapsed, fromB, outcomes, pages := 0, 0, 0, 0
	for next := page; next != nil; {
		pages++
		for _, e := range next["entry"].([]any) {
			em := e.(map[string]any)
			if em["search"].(map[string]any)["mode"] == "outcome" {
				outcomes++
				if !strings.Contains(compact(mustJSON(t, em)), hang.URL) || !strings.Contains(compact(mustJSON(t, em)), `"code":"incomplete"`) {
					t.Errorf("outcome entry does not name the silent peer: %v", em)
				}
				continue
			}
			full := em["fullUrl"].(string)
			if seen[full] {
				t.Errorf("%s on two pages", full)
			}
			seen[full] = true
			js := compact(mustJSON(t, em))
			if strings.Contains(js, "federated-same-as") {
				collapsed++
			}
			if strings.HasPrefix(full, b.base) {
				fromB++
				if !strings.Contains(js, `"valueUrl":"`+b.base+`"`) {
					t.Errorf("B's entry without its origin: %s", js)
				}
			}
			if strings.Contains(js, "Fedlate") {
				t.Errorf("a Patient created after the search is in its pages")
			}
		}
		next = nextPage(t, a, next, viewer)
	}
	if len(seen) != 5 || pages != 3 || outcomes != 3 || collapsed != 3 || fromB != 1 {
		t.Fatalf("entries %d pages %d outcomes %d collapsed %d from B %d; want 5, 3, 3 (one a page), 3, 1", len(seen), pages, outcomes, collapsed, fromB)
	}
	// Another client cannot page through viewer's set.
	set := linkParam(t, page, "next", "_set")
	if got := a.do("GET", "/Patient?_federated=true&_set="+set, ""); got.status != 404 {
		t.Errorf("another caller paged viewer's set: %d", got.status)
	}
	for _, bad := range []string{"/Patient?_federated=maybe", "/Patient?_federated=true&_count=x", "/Patient?_federated=true&_offset=-1", "/Patient?_federated=true&_set=nope"} {
		if got := a.do("GET", bad, "", bearer(viewer)...); got.status < 400 || !strings.Contains(string(got.body), "OperationOutcome") {
			t.Errorf("%s: %d %s", bad, got.status, got.body)
		}
	}
	waitFor(t, "B's audit of A's search for viewer", 10*time.Second, func() bool {
		return strings.Contains(string(b.do("GET", "/AuditEvent?_count=200", "").body), "client/viewer")
	})
	waitFor(t, "A's audit of what viewer saw from B", 10*time.Second, func() bool {
		body := string(a.do("GET", "/AuditEvent?_count=200", "").body)
		return strings.Contains(body, "from "+b.base) && strings.Contains(body, "federated-set")
	})
}

// nextPage follows a page's next link as token's client; nil on the last.
func nextPage(t *testing.T, s *testServer, page map[string]any, token string) map[string]any {
	t.Helper()
	for _, l := range page["link"].([]any) {
		lm := l.(map[string]any)
		if lm["relation"] == "next" {
			r := s.do("GET", strings.TrimPrefix(lm["url"].(string), s.base), "", bearer(token)...)
			if r.status != 200 {
				t.Fatalf("next page: %d %s", r.status, r.body)
			}
			return r.json(t)
		}
	}
	return nil
}

// linkParam returns query parameter name of a page's link rel.
func linkParam(t *testing.T, page map[string]any, rel, name string) string {
	t.Helper()
	for _, l := range page["link"].([]any) {
		lm := l.(map[string]any)
		if lm["relation"] == rel {
			u, err := url.Parse(lm["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			return u.Query().Get(name)
		}
	}
	t.Fatalf("no %s link", rel)
	return ""
}

// An absolute reference to a record on a registered peer is followed: A
// fetches B's Practitioner through the allow-list, registers it as B's
// record, and stores the Patient with the reference rewritten to the
// copy. A reference to a peer that is down waits.
func TestReferenceToPeerFollowed(t *testing.T) {
	edit := pushEdit(func(c *Config) { c.OutboundAllow = "127.0.0.1" })
	a, b := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	pr := b.do("POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Remote","given":["Rae"]}]}`).json(t)["id"].(string)
	a.addClient(`{"name":"peer-b","system":"http://b.example","roles":["source"]}`)
	a.do("POST", "/Endpoint", endpointJSON(b.base, "peer-b", "http://b.example", testAdminToken, "3600"))
	ehr := a.addClient(`{"name":"ehr","system":"http://ehr.example/fhir","roles":["source"]}`)
	r := a.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Local"}],"generalPractitioner":[{"reference":"`+b.base+`/Practitioner/`+pr+`"}]}`, bearer(ehr)...)
	if r.status != 201 {
		t.Fatalf("create with a peer reference: %d %s", r.status, r.body)
	}
	ref := r.json(t)["generalPractitioner"].([]any)[0].(map[string]any)["reference"].(string)
	copyOf := a.do("GET", "/"+ref, "")
	if copyOf.status != 200 || !strings.Contains(string(copyOf.body), "Remote") || !strings.Contains(string(copyOf.body), `"source":"http://b.example`) {
		t.Fatalf("followed record %s: %d %s", ref, copyOf.status, copyOf.body)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	downBase := down.URL + "/fhir"
	down.Close()
	a.do("POST", "/Endpoint", endpointJSON(downBase, "peer-b", "http://b.example", "x", "3600"))
	r = a.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Later"}],"generalPractitioner":[{"reference":"`+downBase+`/Practitioner/other"}]}`, bearer(ehr)...)
	if r.status != 202 || !strings.Contains(string(r.body), downBase+"/Practitioner/other") {
		t.Fatalf("reference to a peer that is down: %d %s", r.status, r.body)
	}
}
