package app

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"idem/registry/sqlstore/sqltest"
)

// auditedEvents waits (up to two seconds) for at least want AuditEvents
// found by query and returns them.
func auditedEvents(t *testing.T, s *testServer, query string, want int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var b struct {
			Entry []struct{ Resource map[string]any }
		}
		r := s.do("GET", "/AuditEvent?_count=100&"+query, "")
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("AuditEvent?%s: %s", query, truncate(r.body))
		}
		if len(b.Entry) >= want || time.Now().After(deadline) {
			out := make([]map[string]any, len(b.Entry))
			for i, e := range b.Entry {
				out[i] = e.Resource
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// codes lists the subtype codes of ev.
func codes(ev map[string]any) string {
	var out []string
	subs, _ := ev["subtype"].([]any)
	for _, s := range subs {
		out = append(out, s.(map[string]any)["code"].(string))
	}
	return strings.Join(out, " ")
}

// entities lists ev's entity references and decoded queries.
func entities(ev map[string]any) (refs, queries []string) {
	ents, _ := ev["entity"].([]any)
	for _, e := range ents {
		m := e.(map[string]any)
		if w, ok := m["what"].(map[string]any); ok {
			refs = append(refs, w["reference"].(string))
		}
		if q, ok := m["query"].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(q)
			queries = append(queries, string(b))
		}
	}
	return refs, queries
}

func agentName(ev map[string]any) string {
	return ev["agent"].([]any)[0].(map[string]any)["who"].(map[string]any)["identifier"].(map[string]any)["value"].(string)
}

// Reads, searches and $match are audited as BALP read and query events,
// off the request path; auditing the audit trail's search does not recurse.
func TestReadAudit(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.auditEvery = 20 * time.Millisecond })
	created := s.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://ehr.example/mrn","value":"AUD-1"}],"name":[{"family":"Audetta","given":["Rita"]}],"birthDate":"1971-03-04"}`)
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := created.json(t)["id"].(string)
	ref := "Patient/" + id + "/_history/1"
	if r := s.do("GET", "/Patient/"+id, ""); r.status != 200 {
		t.Fatalf("read: %d", r.status)
	}
	if r := s.do("GET", "/Patient?family=Audetta", ""); r.status != 200 {
		t.Fatalf("search: %d", r.status)
	}
	if r := s.do("POST", "/Patient/$match", matchParams(`{"resourceType":"Patient","name":[{"family":"Audetta","given":["Rita"]}],"birthDate":"1971-03-04"}`)); r.status != 200 {
		t.Fatalf("$match: %d %s", r.status, r.body)
	}

	if r := s.do("GET", "/Patient/"+id+"/_history/1", ""); r.status != 200 {
		t.Fatalf("vread: %d", r.status)
	}
	if r := s.do("GET", "/Patient/$ihe-pix?sourceIdentifier=http://ehr.example/mrn%7CAUD-1", ""); r.status != 200 {
		t.Fatalf("$ihe-pix: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/$export?_type=Patient", "", "Prefer", "respond-async"); r.status != 202 {
		t.Fatalf("$export: %d %s", r.status, r.body)
	}
	for _, sub := range []string{"vread", "$ihe-pix", "$export"} {
		evs := auditedEvents(t, s, "subtype="+url.QueryEscape(sub), 1)
		if len(evs) != 1 || agentName(evs[0]) != "admin" {
			t.Errorf("%s events: %v", sub, evs)
		}
	}

	read := auditedEvents(t, s, "subtype=read", 1)
	if len(read) != 1 || read[0]["action"] != "R" || agentName(read[0]) != "admin" {
		t.Fatalf("read events: %v", read)
	}
	if refs, _ := entities(read[0]); len(refs) != 1 || refs[0] != ref {
		t.Errorf("read entities %v, want %s", refs, ref)
	}

	search := auditedEvents(t, s, "subtype=search-type&entity="+ref, 1)
	if len(search) != 1 || search[0]["action"] != "E" || agentName(search[0]) != "admin" {
		t.Fatalf("search events: %v", search)
	}
	if refs, queries := entities(search[0]); len(queries) != 1 || queries[0] != "Patient?family=Audetta" || len(refs) != 1 || refs[0] != ref {
		t.Errorf("search entities %v, queries %q", refs, queries)
	}
	if !strings.Contains(mustJSON(t, search[0]), `"returned"`) {
		t.Errorf("search event without the count returned: %s", mustJSON(t, search[0]))
	}

	match := auditedEvents(t, s, "subtype=$match", 1)
	if len(match) != 1 || codes(match[0]) != "operation $match" {
		t.Fatalf("$match events: %v", match)
	}
	if refs, queries := entities(match[0]); len(refs) != 1 || refs[0] != ref || len(queries) != 1 || !strings.HasPrefix(queries[0], "Patient/$match ") {
		t.Errorf("$match entities %v, queries %q", refs, queries)
	}

	// Reading the audit trail is audited, once per search: counting twice
	// finds exactly the first count's own event in between.
	// Under load the events of the searches above may still be arriving:
	// counted again until they are all in (a count that recursed would
	// add two each time, never one).
	var n1, n2 int
	for try := 0; try < 10; try++ {
		time.Sleep(200 * time.Millisecond)
		n1 = total(t, s.do("GET", "/AuditEvent?_summary=count", ""))
		time.Sleep(200 * time.Millisecond)
		if n2 = total(t, s.do("GET", "/AuditEvent?_summary=count", "")); n2 == n1+1 {
			break
		}
	}
	if n2 != n1+1 {
		t.Errorf("AuditEvents %d then %d: want exactly one more (the first count's)", n1, n2)
	}
}

// IDEM_AUDIT_READS=false turns read audit off.
func TestReadAuditOff(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.fromEnv(func(k string) string {
		if k == "IDEM_AUDIT_READS" {
			return "false"
		}
		return ""
	}); err != nil || cfg.AuditReads {
		t.Fatalf("IDEM_AUDIT_READS=false: %v, AuditReads %v", err, cfg.AuditReads)
	}
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.AuditReads = false; c.auditEvery = 20 * time.Millisecond })
	s.do("GET", "/Patient?family=x", "")
	time.Sleep(100 * time.Millisecond)
	if n := total(t, s.do("GET", "/AuditEvent?_summary=count&subtype=search-type", "")); n != 0 {
		t.Errorf("%d search events with read audit off", n)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The GET entries of a batch Bundle are audited as the same reads and
// searches sent alone: a read names its record, a search its query and
// what it returned; a failed GET is no read.
func TestReadAuditBundleEntries(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.auditEvery = 20 * time.Millisecond })
	created := s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Bundleread","given":["Ann"]}],"birthDate":"1960-01-02"}`)
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := created.json(t)["id"].(string)
	ref := "Patient/" + id + "/_history/1"
	r := s.do("POST", "", `{"resourceType":"Bundle","type":"batch","entry":[
		{"request":{"method":"GET","url":"Patient/`+id+`"}},
		{"request":{"method":"GET","url":"Patient?family=Bundleread"}},
		{"request":{"method":"GET","url":"Patient/no-such-id"}}]}`)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	read := auditedEvents(t, s, "subtype=read", 1)
	if len(read) != 1 || read[0]["action"] != "R" || agentName(read[0]) != "admin" {
		t.Fatalf("read events: %v", read)
	}
	if refs, _ := entities(read[0]); len(refs) != 1 || refs[0] != ref {
		t.Errorf("read entities %v, want %s", refs, ref)
	}
	search := auditedEvents(t, s, "subtype=search-type&entity="+ref, 1)
	if len(search) != 1 || search[0]["action"] != "E" {
		t.Fatalf("search events: %v", search)
	}
	if refs, queries := entities(search[0]); len(queries) != 1 || queries[0] != "Patient?family=Bundleread" || len(refs) != 1 || refs[0] != ref {
		t.Errorf("search entities %v, queries %q", refs, queries)
	}
}
