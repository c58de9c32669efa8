package app

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The fixtures below are modelled on the examples of the IHE PMIR IG,
// Mobile Patient Identity Feed [ITI-93]
// (https://profiles.ihe.net/ITI/PMIR/ITI-93.html#23934126-example-fhir-bundles:
// Bundle-ex-PMIRBundleCreate, -Update, -Merge, -Delete): a message Bundle,
// its MessageHeader first (eventUri urn:ihe:iti:pmir:2019:patient-feed,
// source and destination endpoints, focus the history Bundle), then a
// history Bundle of Patient entries with request and response. The
// Patients carry an identifier in the source's domain so the tests can
// find them; the ids are the source's own.

const (
	pmirSystem = "http://example.com/fhir"      // the source's system: its records' fullUrls
	pmirMRN    = "urn:oid:1.3.6.1.4.1.21367.99" // the source's identifier domain
)

// pmirMessage is a PMIR feed message with the history entries given.
func pmirMessage(id string, entries ...string) string {
	return `{"resourceType":"Bundle","id":"msg-` + id + `","type":"message","timestamp":"2024-03-04T14:05:22Z","entry":[
	{"fullUrl":"http://example.com/fhir/MessageHeader/` + id + `","resource":{"resourceType":"MessageHeader","id":"` + id + `",
	  "eventUri":"urn:ihe:iti:pmir:2019:patient-feed",
	  "destination":[{"endpoint":"http://example.com/patientEndpoint"}],
	  "source":{"endpoint":"http://example.com/patientSource"},
	  "focus":[{"reference":"Bundle/hist-` + id + `"}]}},
	{"fullUrl":"http://example.com/fhir/Bundle/hist-` + id + `","resource":{"resourceType":"Bundle","id":"hist-` + id + `","type":"history","entry":[` +
		strings.Join(entries, ",") + `]}}]}`
}

// pmirPatient is a history entry writing Patient id (PUT, or POST).
func pmirPatient(method, id, family, given, birth, city string, extra string) string {
	req := `{"method":"PUT","url":"Patient/` + id + `"}`
	status := "200"
	if method == "POST" {
		req, status = `{"method":"POST","url":"Patient"}`, "201"
	}
	return `{"fullUrl":"http://example.com/fhir/Patient/` + id + `","resource":{"resourceType":"Patient","id":"` + id + `",
	  "identifier":[{"system":"` + pmirMRN + `","value":"` + id + `"}],"active":true,
	  "name":[{"use":"official","family":"` + family + `","given":["` + given + `"]}],"gender":"male","birthDate":"` + birth + `",
	  "address":[{"use":"home","line":["4512 Bombardier Way"],"city":"` + city + `","postalCode":"48174","country":"US"}]` + extra + `},
	  "request":` + req + `,"response":{"status":"` + status + `"}}`
}

// pmirMerge is the PMIR merge entry: the old Patient updated with active
// false and a replaced-by link to the survivor, nothing else (as
// ex-patient-merge): the registry deprecates its stored record.
func pmirMerge(old, survivor string) string {
	return `{"fullUrl":"http://example.com/fhir/Patient/` + old + `","resource":{"resourceType":"Patient","id":"` + old + `","active":false,
	  "link":[{"other":{"reference":"http://example.com/fhir/Patient/` + survivor + `"},"type":"replaced-by"}]},
	  "request":{"method":"PUT","url":"Patient/` + old + `"},"response":{"status":"200"}}`
}

// pmirDelete is the PMIR delete entry.
func pmirDelete(id string) string {
	return `{"fullUrl":"http://example.com/fhir/Patient/` + id + `","request":{"method":"DELETE","url":"Patient/` + id + `"},"response":{"status":"202"}}`
}

// messageResponse checks a response message: a message Bundle whose
// MessageHeader answers request id with code, and returns the
// diagnostics of its OperationOutcome.
func messageResponse(t *testing.T, r *response, status int, request, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("$process-message = %d, want %d: %s", r.status, status, truncate(r.body))
	}
	b := r.json(t)
	entries := asList(b["entry"])
	if b["type"] != "message" || len(entries) != 2 {
		t.Fatalf("not a response message: %s", truncate(r.body))
	}
	h := entries[0].(map[string]any)["resource"].(map[string]any)
	resp, _ := h["response"].(map[string]any)
	if h["resourceType"] != "MessageHeader" || resp["identifier"] != request || resp["code"] != code {
		t.Fatalf("response MessageHeader %v, want response.identifier %s, code %s", h, request, code)
	}
	oo := entries[1].(map[string]any)
	if oo["resource"].(map[string]any)["resourceType"] != "OperationOutcome" || resp["details"].(map[string]any)["reference"] != oo["fullUrl"] {
		t.Fatalf("response.details does not name the OperationOutcome entry: %s", truncate(r.body))
	}
	return fmt.Sprint(oo["resource"])
}

// byIdentifier returns the ids of the current Patients with identifier sys|val.
func (s *testServer) byIdentifier(sys, val string) []string {
	s.t.Helper()
	b := s.mustOK(200, "GET", "/Patient?identifier="+url.QueryEscape(sys+"|"+val), "")
	var ids []string
	for _, e := range asList(b["entry"]) {
		ids = append(ids, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
	}
	return ids
}

// onePatient is the registry id of the one Patient with the source's id.
func (s *testServer) onePatient(val string) string {
	s.t.Helper()
	ids := s.byIdentifier(pmirMRN, val)
	if len(ids) != 1 {
		s.t.Fatalf("Patients with identifier %s: %v, want one", val, ids)
	}
	return ids[0]
}

// goldenOfRecord is the golden record a record is a MATCH of ("" none).
func (s *testServer) goldenOfRecord(ref string) string {
	s.t.Helper()
	for _, l := range parts(s.mustOK(200, "GET", "/$mdm-query-links?resourceId="+ref+"&matchResult=MATCH", ""), "link") {
		return l["goldenResourceId"].(string)
	}
	return ""
}

// pixTargets are the targetId references $ihe-pix answers for the source's id.
func (s *testServer) pixTargets(val string) []string {
	s.t.Helper()
	x := s.mustOK(200, "GET", "/Patient/$ihe-pix?sourceIdentifier="+url.QueryEscape(pmirMRN+"|"+val), "")
	var refs []string
	for _, p := range parts(x, "targetId") {
		refs = append(refs, p[""].(map[string]any)["reference"].(string))
	}
	return refs
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TestPMIRFeed runs the ITI-93 create, update, merge, unmerge and delete
// examples through $process-message as a source client.
func TestPMIRFeed(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		token := s.addClient(`{"name":"pmir-src","system":"` + pmirSystem + `","roles":["source"],"domains":["` + pmirMRN + `"]}`)
		as := bearer(token)

		// Create: two new Patients (ex-PMIRBundleCreate), clearly two people.
		r := s.do("POST", "/$process-message", pmirMessage("create-1",
			pmirPatient("POST", "123", "Riegel", "David", "1985-07-12", "Romulus", ""),
			pmirPatient("POST", "456", "Wooten", "Lucille", "1971-12-14", "Scranton", "")), as...)
		out := messageResponse(t, r, 200, "create-1", "ok")
		p123, p456 := s.onePatient("123"), s.onePatient("456")
		if !strings.Contains(out, "Patient/"+p123) || !strings.Contains(out, "created") {
			t.Fatalf("the response does not name the created records: %s", out)
		}
		g123, g456 := s.goldenOfRecord("Patient/"+p123), s.goldenOfRecord("Patient/"+p456)
		if g123 == "" || g456 == "" || g123 == g456 {
			t.Fatalf("golden records %q and %q: want two", g123, g456)
		}
		stored := s.mustOK(200, "GET", "/Patient/"+p123, "")
		if src := stored["meta"].(map[string]any)["source"]; src != pmirSystem+"/Patient/123" {
			t.Fatalf("meta.source %v, want the source's record URL", src)
		}

		// The same create again updates, never duplicates.
		r = s.do("POST", "/$process-message", pmirMessage("create-2", pmirPatient("POST", "123", "Riegel", "David", "1985-07-12", "Romulus", "")), as...)
		messageResponse(t, r, 200, "create-2", "ok")
		if ids := s.byIdentifier(pmirMRN, "123"); len(ids) != 1 {
			t.Fatalf("a resent create duplicated the record: %v", ids)
		}

		// Update (ex-PMIRBundleUpdate): a move.
		r = s.do("POST", "/$process-message", pmirMessage("update-1", pmirPatient("PUT", "123", "Riegel", "David", "1985-07-12", "Owensburg", "")), as...)
		messageResponse(t, r, 200, "update-1", "ok")
		if got := s.mustOK(200, "GET", "/Patient/"+p123, ""); !strings.Contains(fmt.Sprint(got["address"]), "Owensburg") {
			t.Fatalf("update not stored: %v", got["address"])
		}

		// Merge (ex-PMIRBundleMerge): 123 replaced by 456 at the source.
		r = s.do("POST", "/$process-message", pmirMessage("merge-1", pmirMerge("123", "456")), as...)
		messageResponse(t, r, 200, "merge-1", "ok")
		if g := s.goldenOfRecord("Patient/" + p123); g != g456 {
			t.Fatalf("after the merge Patient/%s is in %q, want the survivor's %s", p123, g, g456)
		}
		if got := s.mustOK(200, "GET", "/Patient/"+p123, ""); got["active"] != false || !strings.Contains(fmt.Sprint(got["name"]), "Riegel") {
			t.Fatalf("the merged record is not the deprecated stored one: %v", got)
		}
		if refs := s.pixTargets("123"); !contains(refs, "Patient/"+p456) || !contains(refs, g456) {
			t.Fatalf("$ihe-pix for the merged record: %v, want the survivor Patient/%s and %s", refs, p456, g456)
		}
		h := s.mustOK(200, "GET", "/$mdm-link-history?resourceId=Patient/"+p123, "")
		if !strings.Contains(fmt.Sprint(h), "source merge") || !strings.Contains(fmt.Sprint(h), "pmir-src") {
			t.Fatalf("the merge is not a decision of the source in the link history: %v", h)
		}

		// Unmerge at the source: 123 active again, without the link.
		r = s.do("POST", "/$process-message", pmirMessage("unmerge-1", pmirPatient("PUT", "123", "Riegel", "David", "1985-07-12", "Owensburg", "")), as...)
		messageResponse(t, r, 200, "unmerge-1", "ok")
		if g := s.goldenOfRecord("Patient/" + p123); g == "" || g == g456 {
			t.Fatalf("after the unmerge Patient/%s is in %q, want a golden record apart from %s", p123, g, g456)
		}
		if refs := s.pixTargets("123"); contains(refs, "Patient/"+p456) {
			t.Fatalf("$ihe-pix still answers the survivor after the unmerge: %v", refs)
		}

		// Delete (ex-PMIRBundleDelete): a source may not, until the policy
		// lets this client retire its records.
		before := total(t, s.do("GET", "/Patient?_summary=count", ""))
		r = s.do("POST", "/$process-message", pmirMessage("delete-1", pmirDelete("123")), as...)
		if out := messageResponse(t, r, 403, "delete-1", "fatal-error"); !strings.Contains(out, "pmir-src") {
			t.Fatalf("refusal does not name the client: %s", out)
		}
		if after := total(t, s.do("GET", "/Patient?_summary=count", "")); after != before {
			t.Fatalf("a refused delete changed the Patients: %d → %d", before, after)
		}
		if status, out := s.admin("POST", "/rules", `{"rule":"p, client:pmir-src, Patient, *, retire, allow"}`); status/100 != 2 {
			t.Fatalf("add rule: %d %v", status, out)
		}
		r = s.do("POST", "/$process-message", pmirMessage("delete-2", pmirDelete("123")), as...)
		messageResponse(t, r, 200, "delete-2", "ok")
		if r := s.do("GET", "/Patient/"+p123, ""); r.status != 410 {
			t.Fatalf("deleted record reads %d, want 410", r.status)
		}
	})
}

// TestSourceMergeREST merges and unmerges over plain REST updates, with a
// record of another source left behind, and a steward's undo.
func TestSourceMergeREST(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		lab := s.addClient(`{"name":"lab","system":"http://lab.example/fhir","roles":["source"],"domains":["http://lab.example/mrn"]}`)
		old := s.createAs(ehr, "Patient", gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true))
		surv := s.createAs(ehr, "Patient", gaskell("http://ehr.example/fhir/Patient/2", "http://ehr.example/mrn", "E-2", "Elisabeth", "1811-02-03", false))
		other := s.createAs(lab, "Patient", gaskell("http://lab.example/fhir/Patient/9", "http://lab.example/mrn", "L-9", "Elizabeth", "1810-09-29", true))
		gOld, gSurv := s.goldenOfRecord("Patient/"+old), s.goldenOfRecord("Patient/"+surv)
		if gOld == "" || gOld == gSurv || s.goldenOfRecord("Patient/"+other) != gOld {
			t.Fatalf("setup: golden records old %s, survivor %s, lab %s", gOld, gSurv, s.goldenOfRecord("Patient/"+other))
		}
		merge := func(token, target string) *response {
			body := `{"resourceType":"Patient","id":"` + old + `","meta":{"source":"http://ehr.example/fhir/Patient/1"},"active":false,
			  "identifier":[{"system":"http://ehr.example/mrn","value":"E-1"}],"link":[{"other":{"reference":"Patient/` + target + `"},"type":"replaced-by"}]}`
			return s.do("PUT", "/Patient/"+old, body, bearer(token)...)
		}
		runSteps(t, s, []step{
			{name: "merge into another source's record", method: "PUT", path: "/Patient/" + old, headers: bearer(ehr), wantStatus: 422, wantBody: []string{"another source", "Patient.link.other"},
				body: `{"resourceType":"Patient","id":"` + old + `","active":false,"identifier":[{"system":"http://ehr.example/mrn","value":"E-1"}],"link":[{"other":{"reference":"Patient/` + other + `"},"type":"replaced-by"}]}`},
			{name: "merge into an unknown record", method: "PUT", path: "/Patient/" + old, headers: bearer(ehr), wantStatus: 422, wantBody: []string{"replaced-by target"},
				body: `{"resourceType":"Patient","id":"` + old + `","active":false,"link":[{"other":{"reference":"Patient/nope"},"type":"replaced-by"}]}`},
		})
		if g := s.goldenOfRecord("Patient/" + old); g != gOld {
			t.Fatalf("a refused merge moved the record to %q", g)
		}

		// The merge: old joins the survivor's golden record; the lab record
		// stays, and its golden record is proposed as a duplicate.
		if r := merge(ehr, surv); r.status != 200 || r.header.Get("Link") == "" || !strings.Contains(r.header.Get("Link"), gSurv) {
			t.Fatalf("merge: %d %s %s", r.status, r.header.Get("Link"), truncate(r.body))
		}
		if g := s.goldenOfRecord("Patient/" + old); g != gSurv {
			t.Fatalf("merged record in %q, want %s", g, gSurv)
		}
		if g := s.goldenOfRecord("Patient/" + other); g != gOld {
			t.Fatalf("the lab's record moved to %q", g)
		}
		dups := parts(s.mustOK(200, "GET", "/$mdm-duplicate-golden-resources", ""), "link")
		if len(dups) != 1 || !strings.Contains(fmt.Sprint(dups[0]), strings.TrimPrefix(gOld, "Person/")) {
			t.Fatalf("duplicate proposals %v, want %s left behind", dups, gOld)
		}

		// A steward undoes the source's decision like any other.
		decision := lastDecision(t, s, "Patient/"+old)
		s.mustOK(200, "POST", "/$mdm-undo", opBody("decision", fmt.Sprint(decision)))
		if g := s.goldenOfRecord("Patient/" + old); g != gOld {
			t.Fatalf("after the steward's undo the record is in %q, want %s", g, gOld)
		}
		// The source merges again, then undoes its merge by removing the link.
		if r := merge(ehr, surv); r.status != 200 {
			t.Fatalf("merge again: %d %s", r.status, truncate(r.body))
		}
		unmerged := gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true)
		if r := s.do("PUT", "/Patient/"+old, withID(unmerged, old), bearer(ehr)...); r.status != 200 {
			t.Fatalf("unmerge: %d %s", r.status, truncate(r.body))
		}
		if g := s.goldenOfRecord("Patient/" + old); g != gOld {
			t.Fatalf("after the source's unmerge the record is in %q, want back in %s", g, gOld)
		}
		if person := s.mustOK(200, "GET", "/"+gOld, ""); person["active"] != true || !contains(linkTargets(person), "Patient/"+old) {
			t.Fatalf("%s after the unmerge: %v", gOld, person)
		}
	})
}

// TestRetire: active false without replaced-by takes a record out of its
// golden record, when the policy lets the client retire.
func TestRetire(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		lab := s.addClient(`{"name":"lab","system":"http://lab.example/fhir","roles":["source"],"domains":["http://lab.example/mrn"]}`)
		a := s.createAs(ehr, "Patient", gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true))
		b := s.createAs(lab, "Patient", gaskell("http://lab.example/fhir/Patient/9", "http://lab.example/mrn", "L-9", "Elizabeth", "1810-09-29", true))
		g := s.goldenOfRecord("Patient/" + a)
		if g == "" || s.goldenOfRecord("Patient/"+b) != g {
			t.Fatalf("setup: one golden record for both, got %s and %s", g, s.goldenOfRecord("Patient/"+b))
		}
		retired := strings.Replace(withID(gaskell("http://ehr.example/fhir/Patient/1", "http://ehr.example/mrn", "E-1", "Elizabeth", "1810-09-29", true), a),
			`"resourceType":"Patient",`, `"resourceType":"Patient","active":false,`, 1)
		runSteps(t, s, []step{
			{name: "retire without the rule", method: "PUT", path: "/Patient/" + a, headers: bearer(ehr), body: retired, wantStatus: 403, wantBody: []string{"retire"}},
			{name: "delete without the rule", method: "DELETE", path: "/Patient/" + a, headers: bearer(ehr), wantStatus: 403},
		})
		if s.goldenOfRecord("Patient/"+a) != g {
			t.Fatal("a refused retirement unlinked the record")
		}
		s.admin("POST", "/rules", `{"rule":"p, client:ehr-main, Patient, *, retire, allow"}`)
		runSteps(t, s, []step{
			{name: "another client's record", method: "PUT", path: "/Patient/" + b, headers: bearer(ehr), wantStatus: 403,
				body: strings.Replace(withID(gaskell("http://lab.example/fhir/Patient/9", "http://lab.example/mrn", "L-9", "Elizabeth", "1810-09-29", true), b), `"resourceType":"Patient",`, `"resourceType":"Patient","active":false,`, 1)},
			{name: "retire", method: "PUT", path: "/Patient/" + a, headers: bearer(ehr), body: retired, wantStatus: 200},
		})
		if got := s.goldenOfRecord("Patient/" + a); got != "" {
			t.Fatalf("the retired record is still in %s", got)
		}
		if person := s.mustOK(200, "GET", "/"+g, ""); contains(linkTargets(person), "Patient/"+a) || !contains(linkTargets(person), "Patient/"+b) {
			t.Fatalf("golden record after the retirement: %v", linkTargets(person))
		}
		// A retired record is no home for a new one: the same person again
		// joins the lab's golden record.
		_, g2 := s.mustCreate("Patient", gaskell("http://ehr.example/fhir/Patient/3", "http://ehr.example/mrn", "E-3", "Elizabeth", "1810-09-29", true))
		if g2 != g {
			t.Fatalf("a new record of the person went to %s, want %s", g2, g)
		}
		runSteps(t, s, []step{{name: "delete with the rule", method: "DELETE", path: "/Patient/" + a, headers: bearer(ehr), wantStatus: 200}})
	})
}

// TestProcessMessageBadInput: every malformed, unauthorised or conflicting
// message is answered with an OperationOutcome status and stores nothing.
func TestProcessMessageBadInput(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		src := s.addClient(`{"name":"pmir-src","system":"` + pmirSystem + `","roles":["source"],"domains":["` + pmirMRN + `"]}`)
		reader := s.addClient(`{"name":"reader","system":"http://reader.example","roles":["reader"]}`)
		s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		s.do("POST", "/$process-message", pmirMessage("seed", pmirPatient("POST", "777", "Riegel", "David", "1985-07-12", "Romulus", "")), bearer(src)...)
		ok := pmirMessage("m1", pmirPatient("POST", "900", "Brontë", "Anne", "1820-01-17", "Thornton", ""))
		header := func(extra string) string {
			return `{"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"urn:uuid:5d2c3e35-9b1e-4a55-8a3f-0d0f3c4a1b01","resource":{"resourceType":"MessageHeader"` + extra + `}}]}`
		}
		runSteps(t, s, []step{
			{name: "no token", method: "POST", path: "/$process-message", headers: []string{"Authorization", ""}, body: ok, wantStatus: 401},
			{name: "not JSON", method: "POST", path: "/$process-message", headers: bearer(src), body: `{"resourceType":`, wantStatus: 400, wantBody: []string{"OperationOutcome"}},
			{name: "not a Bundle", method: "POST", path: "/$process-message", headers: bearer(src), body: `{"resourceType":"Patient"}`, wantStatus: 400, wantBody: []string{"OperationOutcome"}},
			{name: "a transaction", method: "POST", path: "/$process-message", headers: bearer(src), body: `{"resourceType":"Bundle","type":"transaction"}`, wantStatus: 400, wantBody: []string{"Bundle.type"}},
			{name: "header not first", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 422, wantBody: []string{"bdl-12"},
				body: `{"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"urn:uuid:5d2c3e35-9b1e-4a55-8a3f-0d0f3c4a1b02","resource":{"resourceType":"Patient"}}]}`},
			{name: "header without id", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 400, wantBody: []string{"MessageHeader needs an id"},
				body: header(`,"eventUri":"urn:ihe:iti:pmir:2019:patient-feed","source":{"endpoint":"http://x.example"},"focus":[{"reference":"Bundle/h"}]`)},
			{name: "focus missing", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 400, wantBody: []string{"not an entry of the message"},
				body: header(`,"id":"h1","eventUri":"urn:ihe:iti:pmir:2019:patient-feed","source":{"endpoint":"http://x.example"},"focus":[{"reference":"Bundle/h"}]`)},
			{name: "PMIR feed of a Practitioner", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 422, wantBody: []string{"Patients only"},
				body: pmirMessage("m2", `{"fullUrl":"http://example.com/fhir/Practitioner/1","resource":{"resourceType":"Practitioner","id":"1"},"request":{"method":"PUT","url":"Practitioner/1"},"response":{"status":"200"}}`)},
			{name: "nothing shared in the focus", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 422, wantBody: []string{"no Patient, Practitioner or Location"},
				body: `{"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"urn:uuid:5d2c3e35-9b1e-4a55-8a3f-0d0f3c4a1b03","resource":{"resourceType":"MessageHeader","id":"h2",
				  "eventCoding":{"system":"http://example.org/events","code":"admit"},"source":{"endpoint":"http://x.example"},"focus":[{"reference":"Encounter/e1"}]}},
				  {"fullUrl":"http://x.example/Encounter/e1","resource":{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"}}}]}`},
			{name: "async", method: "POST", path: "/$process-message?async=true", headers: bearer(src), body: ok, wantStatus: 405},
			{name: "XML", method: "POST", path: "/$process-message", headers: append(bearer(src), "Content-Type", "application/fhir+xml"), body: "<Bundle/>", wantStatus: 415},
			{name: "a reader", method: "POST", path: "/$process-message", headers: bearer(reader), body: ok, wantStatus: 403, wantBody: []string{"fatal-error", "reader"}},
			{name: "another source's domain", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 403, wantBody: []string{"fatal-error"},
				body: pmirMessage("m3", strings.Replace(pmirPatient("POST", "901", "Brontë", "Emily", "1818-07-30", "Thornton", ""), pmirMRN, "http://ehr.example/mrn", 1))},
			{name: "a merge across sources, after a create", method: "POST", path: "/$process-message", headers: bearer(src), wantStatus: 422, wantBody: []string{"fatal-error", "replaced-by target"},
				body: pmirMessage("m4", pmirPatient("POST", "902", "Brontë", "Charlotte", "1816-04-21", "Thornton", ""), pmirMerge("777", "nope"))},
		})
		for _, id := range []string{"900", "901", "902"} {
			if ids := s.byIdentifier(pmirMRN, id); len(ids) != 0 {
				t.Fatalf("a refused message stored Patient %s: %v", id, ids)
			}
		}
		if g := s.goldenOfRecord("Patient/" + s.onePatient("777")); g == "" {
			t.Fatal("a refused merge unlinked the record")
		}
	})
}

// TestProcessMessageGeneric: a message of another event whose focus holds
// a Practitioner and a Location (and an Encounter, ignored).
func TestProcessMessageGeneric(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		hr := s.addClient(`{"name":"hr","system":"http://hr.example/fhir","roles":["source"],"domains":["http://hr.example/staff"]}`)
		msg := `{"resourceType":"Bundle","type":"message","timestamp":"2024-05-01T10:00:00Z","entry":[
		  {"fullUrl":"urn:uuid:0c2a1f0e-3a43-4f6b-9c53-5b8c7e9d1a01","resource":{"resourceType":"MessageHeader","id":"hr-1",
		    "eventCoding":{"system":"http://example.org/fhir/message-events","code":"staff-update"},"source":{"endpoint":"http://hr.example/fhir"},
		    "focus":[{"reference":"Practitioner/p1"},{"reference":"Location/l1"},{"reference":"Encounter/e1"}]}},
		  {"fullUrl":"http://hr.example/fhir/Practitioner/p1","resource":{"resourceType":"Practitioner","id":"p1",
		    "identifier":[{"system":"http://hr.example/staff","value":"S-1"}],"name":[{"family":"Nightingale","given":["Florence"]}],"gender":"female"}},
		  {"fullUrl":"http://hr.example/fhir/Location/l1","resource":{"resourceType":"Location","id":"l1","status":"active","name":"Scutari Ward"}},
		  {"fullUrl":"http://hr.example/fhir/Encounter/e1","resource":{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"}}}]}`
		out := messageResponse(t, s.do("POST", "/$process-message", msg, bearer(hr)...), 200, "hr-1", "ok")
		if !strings.Contains(out, "PUT Practitioner p1: created") || !strings.Contains(out, "PUT Location l1: created") || !strings.Contains(out, "ignored: http://hr.example/fhir/Encounter/e1") {
			t.Fatalf("response outcome: %s", out)
		}
		b := s.mustOK(200, "GET", "/Practitioner?identifier="+url.QueryEscape("http://hr.example/staff|S-1"), "")
		if n := len(asList(b["entry"])); n != 1 {
			t.Fatalf("Practitioners stored: %d", n)
		}
		// Sent again: updates.
		out = messageResponse(t, s.do("POST", "/$process-message", msg, bearer(hr)...), 200, "hr-1", "ok")
		if !strings.Contains(out, "PUT Practitioner p1: updated") {
			t.Fatalf("resent message: %s", out)
		}
	})
}

// dischargeDocument is a FHIR document (a discharge summary, Composition
// first, as in R4 documents.html) from the clinic: its subject Patient,
// author Practitioner, custodian Organization, a Location and an
// Observation.
func dischargeDocument(family string) string {
	return `{"resourceType":"Bundle","type":"document","identifier":{"system":"http://clinic.example/docs","value":"doc-1"},"timestamp":"2024-06-01T09:00:00Z","entry":[
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a01","resource":{"resourceType":"Composition","id":"c1","status":"final",
	   "type":{"coding":[{"system":"http://loinc.org","code":"18842-5","display":"Discharge summary"}]},
	   "subject":{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a02"},"date":"2024-06-01T09:00:00Z",
	   "author":[{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a03"}],"title":"Discharge summary",
	   "custodian":{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a04"},
	   "section":[{"title":"Results","entry":[{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a06"}]}]}},
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a02","resource":{"resourceType":"Patient","id":"pat-7",
	   "identifier":[{"system":"http://clinic.example/mrn","value":"C-7"}],"name":[{"family":"` + family + `","given":["Anne"]}],"gender":"female","birthDate":"1820-01-17",
	   "generalPractitioner":[{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a03"}]}},
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a03","resource":{"resourceType":"Practitioner","id":"prac-3",
	   "identifier":[{"system":"http://clinic.example/staff","value":"S-3"}],"name":[{"family":"Snow","given":["John"]}]}},
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a04","resource":{"resourceType":"Organization","id":"org-1","name":"Clinic"}},
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a05","resource":{"resourceType":"Location","id":"loc-2","status":"active","name":"Ward 2"}},
	 {"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a06","resource":{"resourceType":"Observation","id":"obs-1","status":"final",
	   "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a02"}}}]}`
}

// extracted returns the answer's entries by fullUrl suffix (the last 2 characters of the urn:uuid).
func extracted(t *testing.T, answer map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, p := range asList(answer["parameter"]) {
		e := map[string]any{}
		for _, q := range asList(p.(map[string]any)["part"]) {
			qm := q.(map[string]any)
			for k, v := range qm {
				if strings.HasPrefix(k, "value") {
					if ref, ok := v.(map[string]any); ok {
						v = ref["reference"]
					}
					if qm["name"] == "role" {
						e["role"] = fmt.Sprint(e["role"], v, " ")
						continue
					}
					e[qm["name"].(string)] = v
				}
			}
		}
		full := fmt.Sprint(e["fullUrl"])
		out[full[len(full)-2:]] = e
	}
	return out
}

// TestDocumentExtract posts a document to Bundle/$extract: the shared
// entities become the client's records, linked; the rest is reported.
func TestDocumentExtract(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		clinic := s.addClient(`{"name":"clinic","system":"http://clinic.example/fhir","roles":["source"],"domains":["http://clinic.example/mrn","http://clinic.example/staff"]}`)
		reader := s.addClient(`{"name":"reader","system":"http://reader.example","roles":["reader"]}`)
		// The registry knows Anne already from another source.
		_, known := s.mustCreate("Patient", `{"resourceType":"Patient","identifier":[{"system":"http://other.example/mrn","value":"O-1"}],
		  "name":[{"family":"Brontë","given":["Anne"]}],"gender":"female","birthDate":"1820-01-17"}`)

		r := s.do("POST", "/Bundle/$extract", dischargeDocument("Brontë"), bearer(clinic)...)
		if r.status != 200 {
			t.Fatalf("$extract: %d %s", r.status, truncate(r.body))
		}
		got := extracted(t, r.json(t))
		pat, prac, org, loc, obs, comp := got["02"], got["03"], got["04"], got["05"], got["06"], got["01"]
		if pat["outcome"] != "created" || pat["golden"] != known || !strings.Contains(fmt.Sprint(pat["role"]), "subject") {
			t.Fatalf("subject: %v, want created and linked to %s", pat, known)
		}
		if prac["outcome"] != "created" || prac["golden"] == nil || !strings.Contains(fmt.Sprint(prac["role"]), "author") {
			t.Fatalf("author: %v", prac)
		}
		if loc["outcome"] != "created" || loc["record"] == nil {
			t.Fatalf("location: %v", loc)
		}
		for name, e := range map[string]map[string]any{"custodian": org, "observation": obs, "composition": comp} {
			if e["outcome"] != "skipped" || e["reason"] == nil || e["record"] != nil {
				t.Fatalf("%s: %v, want skipped with a reason", name, e)
			}
		}
		if !strings.Contains(fmt.Sprint(org["reason"]), "Organization is not a shared entity") || !strings.Contains(fmt.Sprint(org["role"]), "custodian") {
			t.Fatalf("custodian: %v", org)
		}
		// The Patient's generalPractitioner now points to the registry's Practitioner.
		stored := s.mustOK(200, "GET", "/"+pat["record"].(string), "")
		if gp := fmt.Sprint(stored["generalPractitioner"]); !strings.Contains(gp, prac["record"].(string)) {
			t.Fatalf("generalPractitioner %s, want %s", gp, prac["record"])
		}
		if src := stored["meta"].(map[string]any)["source"]; src != "http://clinic.example/fhir/Patient/pat-7" {
			t.Fatalf("meta.source %v", src)
		}

		// The same document again: the same records, updated.
		again := extracted(t, s.do("POST", "/Bundle/$extract", dischargeDocument("Brontë"), bearer(clinic)...).json(t))
		if again["02"]["outcome"] != "updated" || again["02"]["record"] != pat["record"] || again["03"]["record"] != prac["record"] {
			t.Fatalf("resent document: %v", again)
		}

		before := total(t, s.do("GET", "/Patient?_summary=count", ""))
		runSteps(t, s, []step{
			{name: "a reader", method: "POST", path: "/Bundle/$extract", headers: bearer(reader), body: dischargeDocument("Grey"), wantStatus: 403, wantBody: []string{"OperationOutcome", "reader"}},
			{name: "not a document", method: "POST", path: "/Bundle/$extract", headers: bearer(clinic), body: `{"resourceType":"Bundle","type":"collection"}`, wantStatus: 400, wantBody: []string{"Bundle.type"}},
			{name: "no Composition first", method: "POST", path: "/Bundle/$extract", headers: bearer(clinic), wantStatus: 422, wantBody: []string{"bdl-11"},
				body: `{"resourceType":"Bundle","type":"document","identifier":{"system":"http://clinic.example/docs","value":"d"},"timestamp":"2024-06-01T09:00:00Z","entry":[{"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a09","resource":{"resourceType":"Patient"}}]}`},
			{name: "nothing shared", method: "POST", path: "/Bundle/$extract", headers: bearer(clinic), wantStatus: 422, wantBody: []string{"no Patient, Practitioner or Location"},
				body: `{"resourceType":"Bundle","type":"document","identifier":{"system":"http://clinic.example/docs","value":"d"},"timestamp":"2024-06-01T09:00:00Z","entry":[{"fullUrl":"urn:uuid:3b0f4c2e-0d43-4b1c-9d4e-6a1f0c8b7a09","resource":{"resourceType":"Composition","status":"final","type":{"text":"note"},"date":"2024-06-01","author":[{"display":"x"}],"title":"t"}}]}`},
			{name: "another client's domain", method: "POST", path: "/Bundle/$extract", headers: bearer(s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"]}`)),
				body: dischargeDocument("Grey"), wantStatus: 403, wantBody: []string{"OperationOutcome", "clinic"}},
			{name: "no token", method: "POST", path: "/Bundle/$extract", headers: []string{"Authorization", ""}, body: dischargeDocument("Grey"), wantStatus: 401},
		})
		if after := total(t, s.do("GET", "/Patient?_summary=count", "")); after != before {
			t.Fatalf("refused documents stored Patients: %d → %d", before, after)
		}
		if m := s.mustOK(200, "GET", "/metadata", ""); !strings.Contains(fmt.Sprint(m), "Bundle-extract") || !strings.Contains(fmt.Sprint(m), "process-message") {
			t.Fatal("the CapabilityStatement does not list $extract and $process-message")
		}
	})
}
