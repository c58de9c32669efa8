package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gaskell is a Patient of one source system: meta.source names the record
// there, identifier its record number.
func gaskell(source, mrnSystem, mrn, given, birth string, address bool) string {
	addr := ""
	if address {
		addr = `,"address":[{"line":["Plymouth Grove"],"city":"Manchester","postalCode":"M13 9LW"}]`
	}
	if birth != "" {
		addr = fmt.Sprintf(`,"birthDate":%q`, birth) + addr
	}
	return fmt.Sprintf(`{"resourceType":"Patient","meta":{"source":%q},"identifier":[{"system":%q,"value":%q}],
		"name":[{"family":"Gaskell","given":[%q]}],"gender":"female"%s}`, source, mrnSystem, mrn, given, addr)
}

// opBody is a Parameters body; pairs are name, value (valueString).
func opBody(pairs ...string) string {
	var ps []string
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, fmt.Sprintf(`{"name":%q,"valueString":%q}`, pairs[i], pairs[i+1]))
	}
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`
}

var goldenLink = regexp.MustCompile(`^<(.+)/fhir/((?:Person|Linkage)/[^>]+)>; rel="golden-record"$`)

// mustCreate posts a resource and returns its id and its golden record
// ("" when the response has no Link header).
func (s *testServer) mustCreate(typ, body string) (id, golden string) {
	s.t.Helper()
	r := s.do("POST", "/"+typ, body)
	if r.status != 201 {
		s.t.Fatalf("create %s: %d %s", typ, r.status, truncate(r.body))
	}
	id, _ = r.json(s.t)["id"].(string)
	if m := goldenLink.FindStringSubmatch(r.header.Get("Link")); m != nil {
		golden = m[2]
	} else if r.header.Get("Link") != "" {
		s.t.Fatalf("Link header %q is not a golden-record link", r.header.Get("Link"))
	}
	return id, golden
}

// mustOK sends a request and fails unless it answers want.
func (s *testServer) mustOK(want int, method, path, body string) map[string]any {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.status != want {
		s.t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, want, truncate(r.body))
	}
	return r.json(s.t)
}

// content is a resource without meta.versionId and meta.lastUpdated.
func content(res map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range res {
		out[k] = v
	}
	if meta, ok := res["meta"].(map[string]any); ok {
		m := map[string]any{}
		for k, v := range meta {
			if k != "versionId" && k != "lastUpdated" {
				m[k] = v
			}
		}
		out["meta"] = m
	}
	return out
}

// parts returns the parameters (or parts) named name, each as a map from
// part name to its value.
func parts(params map[string]any, name string) []map[string]any {
	var out []map[string]any
	for _, p := range asList(params["parameter"]) {
		pm := p.(map[string]any)
		if pm["name"] != name {
			continue
		}
		vals := map[string]any{}
		for _, q := range asList(pm["part"]) {
			qm := q.(map[string]any)
			for k, v := range qm {
				if strings.HasPrefix(k, "value") {
					vals[qm["name"].(string)] = v
				}
			}
		}
		for k, v := range pm {
			if strings.HasPrefix(k, "value") {
				vals[""] = v
			}
		}
		out = append(out, vals)
	}
	return out
}

// value returns the value of the one parameter named name.
func value(t *testing.T, params map[string]any, name string) any {
	t.Helper()
	ps := parts(params, name)
	if len(ps) != 1 {
		t.Fatalf("want one parameter %s, got %d: %v", name, len(ps), params)
	}
	return ps[0][""]
}

func linkTargets(person map[string]any) []string {
	var out []string
	for _, l := range asList(person["link"]) {
		out = append(out, l.(map[string]any)["target"].(map[string]any)["reference"].(string))
	}
	return out
}

// gaskells stores two records of one person from two sources (one Person)
// and a probable third from a clinic, the same name and nothing else (a
// Person of its own, in review).
func gaskells(t *testing.T, s *testServer) (a, b, c, p1, p2 string) {
	t.Helper()
	a, p1 = s.mustCreate("Patient", gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true))
	b, pb := s.mustCreate("Patient", gaskell("http://lab.example/fhir/Patient/9", "http://lab.example/mrn", "L-9", "Elizabeth", "1810-09-29", true))
	if p1 == "" || pb != p1 {
		t.Fatalf("two records of one person: golden records %q and %q, want one", p1, pb)
	}
	c, p2 = s.mustCreate("Patient", gaskell("http://clinic.example/fhir/Patient/3", "http://clinic.example/mrn", "C-3", "Elizabeth", "", false))
	if p2 == "" || p2 == p1 {
		t.Fatalf("a probable match gets a golden record of its own: got %q (first %q)", p2, p1)
	}
	return a, b, c, p1, p2
}

func TestMDMLinksOnWrite(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		a, b, c, p1, _ := gaskells(t, s)
		person := s.mustOK(200, "GET", "/"+p1, "")
		if got, want := linkTargets(person), []string{"Patient/" + a, "Patient/" + b}; !sameSet(got, want) {
			t.Fatalf("%s links %v, want %v", p1, got, want)
		}
		for _, ref := range []string{a, b} {
			bundle := s.mustOK(200, "GET", "/Person?link=Patient/"+ref, "")
			if bundle["total"] != 1.0 || !strings.Contains(fmt.Sprint(bundle["entry"]), p1) {
				t.Fatalf("Person?link=Patient/%s: %v", ref, bundle)
			}
		}
		links := s.mustOK(200, "GET", "/$mdm-query-links?goldenResourceId="+p1+"&matchResult=MATCH", "")
		if got := parts(links, "link"); len(got) != 2 || got[0]["matchResult"] != "MATCH" || got[0]["linkSource"] != "AUTO" || got[0]["grade"] == nil {
			t.Fatalf("query links of %s: %v", p1, got)
		}
		review := s.mustOK(200, "GET", "/$mdm-query-links?matchResult=POSSIBLE_MATCH", "")
		got := parts(review, "link")
		if len(got) != 1 || got[0]["goldenResourceId"] != p1 || got[0]["sourceResourceId"] != "Patient/"+c || got[0]["evidence"] == nil {
			t.Fatalf("review queue: %v", got)
		}
		if !json.Valid([]byte(got[0]["evidence"].(string))) {
			t.Fatalf("evidence is not JSON: %v", got[0]["evidence"])
		}
		summary := s.mustOK(200, "GET", "/$mdm-review-summary", "")
		if n := parts(summary, "count"); len(n) != 1 || n[0]["resourceType"] != "Patient" || n[0]["items"] != 1.0 || n[0]["age"] != "<1d" {
			t.Fatalf("review summary: %v", n)
		}
		// An update, and Prefer: return=minimal, still name the golden record.
		r := s.do("PUT", "/Patient/"+a, strings.Replace(gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true),
			`{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+a+`",`, 1), "Prefer", "return=minimal")
		if m := goldenLink.FindStringSubmatch(r.header.Get("Link")); r.status != 200 || m == nil || m[2] != p1 {
			t.Fatalf("update: %d, Link %q, want %s", r.status, r.header.Get("Link"), p1)
		}
		// A lone Location has no golden record; its twin gives both a Linkage.
		loc := `{"resourceType":"Location","identifier":[{"system":"urn:oid:9.9","value":"%s"}],"name":"Saint Mary's Hospital","address":{"line":["Praed Street"],"city":"London","postalCode":"W2 1NY"}}`
		if _, g := s.mustCreate("Location", fmt.Sprintf(loc, "L1")); g != "" {
			t.Fatalf("a lone Location has golden record %s", g)
		}
		if _, g := s.mustCreate("Location", fmt.Sprintf(loc, "L2")); !strings.HasPrefix(g, "Linkage/") {
			t.Fatalf("two identical Locations: golden record %q, want a Linkage", g)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// lastDecision returns the op id of the newest link event of a record.
func lastDecision(t *testing.T, s *testServer, source string) int {
	t.Helper()
	h := s.mustOK(200, "GET", "/$mdm-link-history?resourceId="+source, "")
	events := parts(h, "historical-link")
	if len(events) == 0 {
		t.Fatalf("no history for %s", source)
	}
	d, _ := events[len(events)-1]["decision"].(float64)
	return int(d)
}

func TestMDMStewardshipUndo(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		a, b, c, p1, p2 := gaskells(t, s)
		before1, before2 := content(s.mustOK(200, "GET", "/"+p1, "")), content(s.mustOK(200, "GET", "/"+p2, ""))

		// The steward confirms the review item: C joins P1, P2 is retired.
		res := s.mustOK(200, "POST", "/$mdm-update-link", opBody("goldenResourceId", p1, "resourceId", "Patient/"+c, "matchResult", "MATCH"))
		if got := linkTargets(res); res["id"] == nil || !sameSet(got, []string{"Patient/" + a, "Patient/" + b, "Patient/" + c}) {
			t.Fatalf("update-link answer links %v", got)
		}
		if retired := s.mustOK(200, "GET", "/"+p2, ""); retired["active"] != false {
			t.Fatalf("%s should be retired: %v", p2, retired)
		}
		links := parts(s.mustOK(200, "GET", "/$mdm-query-links?resourceId=Patient/"+c, ""), "link")
		if len(links) != 1 || links[0]["matchResult"] != "MATCH" || links[0]["linkSource"] != "MANUAL" {
			t.Fatalf("after update-link: %v", links)
		}
		decision := lastDecision(t, s, "Patient/"+c)
		history := s.mustOK(200, "GET", "/$mdm-link-history?goldenResourceId="+p1+","+p2+"&resourceId=Patient/"+c, "")
		if !strings.Contains(fmt.Sprint(history), "REMOVED") || !strings.Contains(fmt.Sprint(history), "admin") {
			t.Fatalf("history lacks the removed link or the actor: %v", history)
		}

		// Undo restores exactly the state before.
		undo := s.mustOK(200, "POST", "/$mdm-undo", fmt.Sprintf(`{"resourceType":"Parameters","parameter":[{"name":"decision","valueInteger":%d}]}`, decision))
		if value(t, undo, "undoes") != float64(decision) || value(t, undo, "decision").(float64) <= float64(decision) {
			t.Fatalf("undo answer: %v", undo)
		}
		if diff := cmp.Diff(before1, content(s.mustOK(200, "GET", "/"+p1, ""))); diff != "" {
			t.Fatalf("%s after undo (-before +after):\n%s", p1, diff)
		}
		if diff := cmp.Diff(before2, content(s.mustOK(200, "GET", "/"+p2, ""))); diff != "" {
			t.Fatalf("%s after undo (-before +after):\n%s", p2, diff)
		}
		review := parts(s.mustOK(200, "GET", "/$mdm-query-links?matchResult=POSSIBLE_MATCH", ""), "link")
		if len(review) != 1 || review[0]["sourceResourceId"] != "Patient/"+c {
			t.Fatalf("undo did not restore the review item: %v", review)
		}
		runSteps(t, s, []step{{name: "undo twice", method: "POST", path: "/$mdm-undo", wantStatus: 409,
			body: fmt.Sprintf(`{"resourceType":"Parameters","parameter":[{"name":"decision","valueInteger":%d}]}`, decision)}})

		// Merge P2 into P1, then undo it.
		merged := s.mustOK(200, "POST", "/$mdm-merge-golden-resources", opBody("fromGoldenResourceId", p2, "toGoldenResourceId", p1))
		if got := linkTargets(merged); !sameSet(got, []string{"Patient/" + a, "Patient/" + b, "Patient/" + c}) {
			t.Fatalf("merge answer links %v", got)
		}
		if from := s.mustOK(200, "GET", "/"+p2, ""); from["active"] != false || !strings.Contains(fmt.Sprint(from["link"]), p1) {
			t.Fatalf("merged-away %s: %v", p2, from)
		}
		s.mustOK(200, "POST", "/$mdm-undo", opBody("decision", fmt.Sprint(lastDecision(t, s, "Patient/"+c))))
		if diff := cmp.Diff(before1, content(s.mustOK(200, "GET", "/"+p1, ""))); diff != "" {
			t.Fatalf("%s after undoing the merge (-before +after):\n%s", p1, diff)
		}
		if diff := cmp.Diff(before2, content(s.mustOK(200, "GET", "/"+p2, ""))); diff != "" {
			t.Fatalf("%s after undoing the merge (-before +after):\n%s", p2, diff)
		}

		// Not duplicates: a sticky NO_MATCH between the two Persons.
		nd := s.mustOK(200, "POST", "/$mdm-not-duplicate", opBody("goldenResourceId", p1, "targetGoldenResourceId", p2))
		if value(t, nd, "success") != true {
			t.Fatalf("not-duplicate: %v", nd)
		}
		q := url.Values{"goldenResourceId": {p1}, "resourceId": {p2}}
		if l := parts(s.mustOK(200, "GET", "/$mdm-query-links?"+q.Encode(), ""), "link"); len(l) != 1 || l[0]["matchResult"] != "NO_MATCH" {
			t.Fatalf("not-duplicate link: %v", l)
		}
		// create-link defaults to MATCH; NO_MATCH then gives the record a Person again.
		res = s.mustOK(200, "POST", "/$mdm-create-link", opBody("goldenResourceId", p1, "resourceId", "Patient/"+c))
		if !sameSet(linkTargets(res), []string{"Patient/" + a, "Patient/" + b, "Patient/" + c}) {
			t.Fatalf("create-link answer: %v", res)
		}
		res = s.mustOK(200, "POST", "/$mdm-update-link", opBody("goldenResourceId", p1, "resourceId", "Patient/"+c, "matchResult", "NO_MATCH"))
		if !sameSet(linkTargets(res), []string{"Patient/" + a, "Patient/" + b}) {
			t.Fatalf("NO_MATCH answer: %v", res)
		}
		if l := parts(s.mustOK(200, "GET", "/$mdm-query-links?resourceId=Patient/"+c+"&matchResult=MATCH", ""), "link"); len(l) != 1 || l[0]["goldenResourceId"] == p1 {
			t.Fatalf("after NO_MATCH %s should have another golden record: %v", c, l)
		}
	})
}

func TestMDMQueryPaging(t *testing.T) {
	s := startServer(t, "sqlite")
	gaskells(t, s)
	page := s.mustOK(200, "GET", "/$mdm-query-links?_count=1&_sort=-score", "")
	if len(parts(page, "link")) != 1 || value(t, page, "total") != 4.0 {
		t.Fatalf("first page: %v", page)
	}
	next, _ := value(t, page, "next").(string)
	if !strings.Contains(next, "_offset=1") || len(parts(page, "prev")) != 0 {
		t.Fatalf("first page links: %v", page)
	}
	page = s.mustOK(200, "POST", "/$mdm-query-links", `{"resourceType":"Parameters","parameter":[{"name":"_offset","valueInteger":3},{"name":"_count","valueInteger":1}]}`)
	if len(parts(page, "link")) != 1 || len(parts(page, "next")) != 0 || len(parts(page, "prev")) != 1 {
		t.Fatalf("last page: %v", page)
	}
	if l := parts(s.mustOK(200, "GET", "/$mdm-query-links?minScore=0.999&resourceType=Patient", ""), "link"); len(l) != 1 || l[0]["score"].(float64) < 0.999 {
		t.Fatalf("minScore: %v", l)
	}
	if l := parts(s.mustOK(200, "GET", "/$mdm-query-links?minScore=0.5&maxScore=0.99&matchResult=POSSIBLE_MATCH,MATCH", ""), "link"); len(l) != 1 || l[0]["matchResult"] != "POSSIBLE_MATCH" {
		t.Fatalf("maxScore: %v", l)
	}
	if l := parts(s.mustOK(200, "GET", "/$mdm-query-links?createdBefore=2000-01-01", ""), "link"); len(l) != 0 {
		t.Fatalf("createdBefore 2000: %v", l)
	}
	if d := s.mustOK(200, "GET", "/$mdm-duplicate-golden-resources?resourceType=Patient", ""); len(parts(d, "link")) != 0 {
		t.Fatalf("duplicates: %v", d)
	}
}

func TestPIXm(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		a, b, _, p1, _ := gaskells(t, s)
		pid := strings.TrimPrefix(p1, "Person/")
		x := s.mustOK(200, "GET", "/Patient/$ihe-pix?sourceIdentifier="+url.QueryEscape("http://ehr.example/mrn|E-1"), "")
		var ids, refs []string
		for _, p := range parts(x, "targetIdentifier") {
			id := p[""].(map[string]any)
			ids = append(ids, id["system"].(string)+"|"+id["value"].(string))
		}
		for _, p := range parts(x, "targetId") {
			refs = append(refs, p[""].(map[string]any)["reference"].(string))
		}
		if want := []string{"http://ehr.example/mrn|E-1", "http://lab.example/mrn|L-9", "urn:idem:person|" + pid}; !sameSet(ids, want) {
			t.Fatalf("targetIdentifier %v, want %v", ids, want)
		}
		if want := []string{"Patient/" + a, "Patient/" + b, p1}; !sameSet(refs, want) {
			t.Fatalf("targetId %v, want %v", refs, want)
		}
		x = s.mustOK(200, "GET", "/Patient/$ihe-pix?sourceIdentifier="+url.QueryEscape("http://ehr.example/mrn|E-1")+"&targetSystem="+url.QueryEscape("http://lab.example/mrn"), "")
		if p := parts(x, "targetIdentifier"); len(p) != 1 || p[0][""].(map[string]any)["value"] != "L-9" {
			t.Fatalf("targetSystem lab: %v", x)
		}
		runSteps(t, s, []step{
			{name: "unknown record", method: "GET", path: "/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape("http://ehr.example/mrn|E-404"), wantStatus: 404,
				wantBody: []string{"not-found"}},
			{name: "unknown domain", method: "GET", path: "/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape("urn:oid:7.7.7|1"), wantStatus: 400,
				wantBody: []string{"code-invalid", "sourceIdentifier"}},
			{name: "unknown target domain", method: "GET", path: "/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape("http://ehr.example/mrn|E-1") + "&targetSystem=urn:oid:7.7.7",
				wantStatus: 403, wantBody: []string{"code-invalid", "targetSystem"}},
			{name: "no system", method: "GET", path: "/Patient/$ihe-pix?sourceIdentifier=E-1", wantStatus: 400, wantBody: []string{"sourceIdentifier"}},
			{name: "missing", method: "GET", path: "/Patient/$ihe-pix", wantStatus: 400, wantBody: []string{"sourceIdentifier"}},
			{name: "unknown parameter", method: "GET", path: "/Patient/$ihe-pix?sourceIdentifier=a|b&colour=red", wantStatus: 400, wantBody: []string{"colour"}},
			{name: "not for Person", method: "GET", path: "/Person/$ihe-pix?sourceIdentifier=a|b", wantStatus: 404},
			{name: "metadata", method: "GET", path: "/metadata", wantStatus: 200, wantBody: []string{`"name":"ihe-pix"`, "IHE.PIXm.pix", `"name":"mdm-query-links"`}},
		})
		// Location: the golden record is the Linkage.
		loc := `{"resourceType":"Location","identifier":[{"system":"urn:oid:9.9","value":"%s"}],"name":"Saint Mary's Hospital","address":{"line":["Praed Street"],"city":"London","postalCode":"W2 1NY"}}`
		l1, _ := s.mustCreate("Location", fmt.Sprintf(loc, "L1"))
		l2, lk := s.mustCreate("Location", fmt.Sprintf(loc, "L2"))
		x = s.mustOK(200, "GET", "/Location/$ihe-pix?sourceIdentifier="+url.QueryEscape("urn:oid:9.9|L1"), "")
		refs = nil
		for _, p := range parts(x, "targetId") {
			refs = append(refs, p[""].(map[string]any)["reference"].(string))
		}
		if want := []string{"Location/" + l1, "Location/" + l2, lk}; !sameSet(refs, want) {
			t.Fatalf("Location targetId %v, want %v", refs, want)
		}
	})
}

func TestMDMSubmitDryRun(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		gaskells(t, s)
		r := s.do("POST", "/$mdm-submit", `{"resourceType":"Parameters","parameter":[{"name":"resourceType","valueString":"Patient"},
			{"name":"criteria","valueString":"family=gaskell"},{"name":"dryRun","valueBoolean":true}]}`)
		loc := r.header.Get("Content-Location")
		if r.status != 202 || !strings.Contains(loc, "/fhir/$mdm-submit-status/") {
			t.Fatalf("$mdm-submit: %d, Content-Location %q: %s", r.status, loc, r.body)
		}
		job, _ := value(t, r.json(t), "jobId").(string)
		var status map[string]any
		for deadline := time.Now().Add(30 * time.Second); ; {
			status = s.mustOK(200, "GET", "/$mdm-submit-status/"+job, "")
			if value(t, status, "status") != "running" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if value(t, status, "status") != "done" || value(t, status, "total") != 3.0 || value(t, status, "processed") != 3.0 ||
			value(t, status, "dryRun") != true {
			t.Fatalf("job status: %v", status)
		}
		if n := value(t, status, "changed").(float64); int(n) != len(parts(status, "change")) {
			t.Fatalf("changed %v but %d change parts", n, len(parts(status, "change")))
		}
		runSteps(t, s, []step{
			{name: "unknown job", method: "GET", path: "/$mdm-submit-status/999", wantStatus: 404},
			{name: "no type", method: "POST", path: "/$mdm-submit", body: opBody("dryRun", "true"), wantStatus: 400, wantBody: []string{"resourceType"}},
			{name: "bad type", method: "POST", path: "/$mdm-submit", body: opBody("resourceType", "Person"), wantStatus: 400, wantBody: []string{"resourceType"}},
			{name: "bad criteria", method: "POST", path: "/$mdm-submit", body: opBody("resourceType", "Patient", "criteria", "colour=red"), wantStatus: 400,
				wantBody: []string{"criteria"}},
			{name: "bad dryRun", method: "POST", path: "/$mdm-submit", body: opBody("resourceType", "Patient", "dryRun", "maybe"), wantStatus: 400,
				wantBody: []string{"dryRun"}},
		})
	})
}

func TestMDMBadInput(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		_, _, c, p1, p2 := gaskells(t, s)
		runSteps(t, s, []step{
			{name: "bad matchResult", method: "GET", path: "/$mdm-query-links?matchResult=MAYBE", wantStatus: 400, wantBody: []string{"matchResult"}},
			{name: "bad count", method: "GET", path: "/$mdm-query-links?_count=0", wantStatus: 400, wantBody: []string{"_count"}},
			{name: "bad offset", method: "GET", path: "/$mdm-query-links?_offset=-1", wantStatus: 400, wantBody: []string{"_offset"}},
			{name: "bad sort", method: "GET", path: "/$mdm-query-links?_sort=name", wantStatus: 400, wantBody: []string{"_sort"}},
			{name: "bad minScore", method: "GET", path: "/$mdm-query-links?minScore=2", wantStatus: 400, wantBody: []string{"minScore"}},
			{name: "bad createdBefore", method: "GET", path: "/$mdm-query-links?createdBefore=2020-13", wantStatus: 400, wantBody: []string{"createdBefore"}},
			{name: "bad golden ref", method: "GET", path: "/$mdm-query-links?goldenResourceId=Patient/1", wantStatus: 400, wantBody: []string{"goldenResourceId"}},
			{name: "unknown parameter", method: "GET", path: "/$mdm-query-links?colour=red", wantStatus: 400, wantBody: []string{"colour"}},
			{name: "not Parameters", method: "POST", path: "/$mdm-query-links", body: `{"resourceType":"Patient"}`, wantStatus: 400},
			{name: "history needs an id", method: "GET", path: "/$mdm-link-history", wantStatus: 400, wantBody: []string{"goldenResourceId"}},
			{name: "update-link needs matchResult", method: "POST", path: "/$mdm-update-link", body: opBody("goldenResourceId", p1, "resourceId", "Patient/"+c),
				wantStatus: 400, wantBody: []string{"matchResult"}},
			{name: "update-link POSSIBLE_MATCH", method: "POST", path: "/$mdm-update-link",
				body: opBody("goldenResourceId", p1, "resourceId", "Patient/"+c, "matchResult", "POSSIBLE_MATCH"), wantStatus: 400, wantBody: []string{"matchResult"}},
			{name: "update-link no such link", method: "POST", path: "/$mdm-update-link",
				body: opBody("goldenResourceId", p2, "resourceId", "Patient/nobody", "matchResult", "MATCH"), wantStatus: 404},
			{name: "update-link unknown golden", method: "POST", path: "/$mdm-update-link",
				body: opBody("goldenResourceId", "Person/nobody", "resourceId", "Patient/"+c, "matchResult", "MATCH"), wantStatus: 404},
			{name: "update-link wrong types", method: "POST", path: "/$mdm-update-link",
				body: opBody("goldenResourceId", "Linkage/x", "resourceId", "Patient/"+c, "matchResult", "MATCH"), wantStatus: 400},
			{name: "update-link bare id", method: "POST", path: "/$mdm-update-link",
				body: opBody("goldenResourceId", "x", "resourceId", "Patient/"+c, "matchResult", "MATCH"), wantStatus: 400, wantBody: []string{"goldenResourceId"}},
			{name: "merge into itself", method: "POST", path: "/$mdm-merge-golden-resources", body: opBody("fromGoldenResourceId", p1, "toGoldenResourceId", p1),
				wantStatus: 400},
			{name: "merge missing", method: "POST", path: "/$mdm-merge-golden-resources", body: opBody("fromGoldenResourceId", p1), wantStatus: 400,
				wantBody: []string{"toGoldenResourceId"}},
			{name: "merge unknown", method: "POST", path: "/$mdm-merge-golden-resources", body: opBody("fromGoldenResourceId", "Person/nobody", "toGoldenResourceId", p1),
				wantStatus: 404},
			{name: "not-duplicate missing", method: "POST", path: "/$mdm-not-duplicate", body: opBody("goldenResourceId", p1), wantStatus: 400,
				wantBody: []string{"targetGoldenResourceId"}},
			{name: "undo unknown", method: "POST", path: "/$mdm-undo", body: opBody("decision", "99999"), wantStatus: 404},
			{name: "undo not a number", method: "POST", path: "/$mdm-undo", body: opBody("decision", "x"), wantStatus: 400, wantBody: []string{"decision"}},
			{name: "undo missing", method: "POST", path: "/$mdm-undo", body: `{"resourceType":"Parameters"}`, wantStatus: 400, wantBody: []string{"decision"}},
			{name: "clear bad type", method: "POST", path: "/$mdm-clear", body: opBody("resourceType", "Person"), wantStatus: 400, wantBody: []string{"resourceType"}},
			{name: "parameter without value", method: "POST", path: "/$mdm-undo", body: `{"resourceType":"Parameters","parameter":[{"name":"decision","part":[{"name":"x","valueString":"y"}]}]}`,
				wantStatus: 400},
			{name: "repeated parameter", method: "GET", path: "/$mdm-query-links?_count=1&_count=2", wantStatus: 400, wantBody: []string{"_count"}},
			{name: "not a duplicate of itself", method: "POST", path: "/$mdm-not-duplicate", body: opBody("goldenResourceId", p1, "targetGoldenResourceId", p1),
				wantStatus: 400, wantBody: []string{"targetGoldenResourceId"}},
			{name: "undo too large", method: "POST", path: "/$mdm-undo", body: opBody("decision", "99999999999"), wantStatus: 400, wantBody: []string{"decision"}},
			{name: "maxScore below minScore", method: "GET", path: "/$mdm-query-links?minScore=0.9&maxScore=0.5", wantStatus: 400, wantBody: []string{"minScore"}},
			{name: "GET a POST operation", method: "GET", path: "/$mdm-update-link", wantStatus: 405},
			{name: "POST the job status", method: "POST", path: "/$mdm-submit-status/1", wantStatus: 405},
			{name: "job status without id", method: "GET", path: "/$mdm-submit-status", wantStatus: 404},
			{name: "POST a GET operation", method: "POST", path: "/$mdm-review-summary", wantStatus: 405},
			{name: "unknown operation", method: "POST", path: "/$mdm-frobnicate", wantStatus: 404},
		})
		// $mdm-clear removes the AUTO links only and reports how many.
		cl := s.mustOK(200, "POST", "/$mdm-clear", opBody("resourceType", "Patient"))
		if value(t, cl, "cleared") != 4.0 {
			t.Fatalf("clear: %v", cl)
		}
		if l := parts(s.mustOK(200, "GET", "/$mdm-query-links", ""), "link"); len(l) != 0 {
			t.Fatalf("links after clear: %v", l)
		}
	})
}
