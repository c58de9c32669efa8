package app

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const patientA = `{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"A-1"}],
	"name":[{"family":"Brontë","given":["Charlotte"]}],"gender":"female","birthDate":"1816-04-21"}`

// step is one request of an API scenario. Paths and bodies may use {name}
// for an id saved by an earlier step.
type step struct {
	name       string
	method     string
	path       string
	body       string
	headers    []string
	wantStatus int
	wantBody   []string          // substrings of the body
	wantHeader map[string]string // header → regexp
	save       string            // save the resource id of the answer under this name
}

func runSteps(t *testing.T, s *testServer, steps []step) {
	t.Helper()
	saved := map[string]string{}
	expand := func(x string) string {
		for k, v := range saved {
			x = strings.ReplaceAll(x, "{"+k+"}", v)
		}
		return x
	}
	for _, st := range steps {
		r := s.do(st.method, expand(st.path), expand(st.body), st.headers...)
		if r.status != st.wantStatus {
			t.Fatalf("%s: %s %s = %d, want %d\n%s", st.name, st.method, expand(st.path), r.status, st.wantStatus, truncate(r.body))
		}
		for _, want := range st.wantBody {
			if !strings.Contains(string(r.body), expand(want)) {
				t.Errorf("%s: body lacks %q\n%s", st.name, expand(want), truncate(r.body))
			}
		}
		for h, re := range st.wantHeader {
			if !regexp.MustCompile(expand(re)).MatchString(r.header.Get(h)) {
				t.Errorf("%s: header %s = %q, want /%s/", st.name, h, r.header.Get(h), expand(re))
			}
		}
		if st.save != "" {
			saved[st.save], _ = r.json(t)["id"].(string)
		}
	}
}

func TestFHIRInteractions(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		runSteps(t, s, []step{
			{name: "metadata", method: "GET", path: "/metadata", wantStatus: 200,
				wantBody: []string{`"fhirVersion":"4.0.1"`, `"name":"family"`, `"code":"transaction"`}},
			{name: "create", method: "POST", path: "/Patient", body: patientA, wantStatus: 201, save: "a",
				wantHeader: map[string]string{"ETag": `^W/"1"$`, "Location": `/fhir/Patient/[0-9a-f-]+/_history/1$`, "Last-Modified": "GMT$",
					"Content-Type": `^application/fhir\+json`}},
			{name: "read", method: "GET", path: "/Patient/{a}", wantStatus: 200, wantBody: []string{`"versionId":"1"`, "Brontë"}},
			{name: "read pretty", method: "GET", path: "/Patient/{a}?_pretty=true", wantStatus: 200, wantBody: []string{"\n  \"id\""}},
			{name: "read format json", method: "GET", path: "/Patient/{a}?_format=json", wantStatus: 200},
			{name: "update", method: "PUT", path: "/Patient/{a}", headers: []string{"If-Match", `W/"1"`},
				body:       `{"resourceType":"Patient","id":"{a}","gender":"female","name":[{"family":"Bell","given":["Currer"]}]}`,
				wantStatus: 200, wantHeader: map[string]string{"ETag": `^W/"2"$`}},
			{name: "stale If-Match", method: "PUT", path: "/Patient/{a}", headers: []string{"If-Match", `W/"1"`},
				body: `{"resourceType":"Patient","id":"{a}"}`, wantStatus: 412, wantBody: []string{"If-Match"}},
			{name: "vread", method: "GET", path: "/Patient/{a}/_history/1", wantStatus: 200, wantBody: []string{"Brontë"}},
			{name: "vread unknown", method: "GET", path: "/Patient/{a}/_history/9", wantStatus: 404},
			{name: "history", method: "GET", path: "/Patient/{a}/_history", wantStatus: 200,
				wantBody: []string{`"type":"history"`, `"total":2`, `"method":"PUT"`}},
			{name: "type history", method: "GET", path: "/Patient/_history?_count=1", wantStatus: 200, wantBody: []string{`"relation":"next"`}},
			{name: "search", method: "GET", path: "/Patient?family=bel", wantStatus: 200, wantBody: []string{`"total":1`, `"mode":"match"`}},
			{name: "search post", method: "POST", path: "/Patient/_search", body: "", wantStatus: 200, wantBody: []string{`"type":"searchset"`}},
			{name: "search unknown param", method: "GET", path: "/Patient?colour=blue", wantStatus: 200,
				wantBody: []string{`"mode":"outcome"`, "colour"}},
			{name: "search strict", method: "GET", path: "/Patient?colour=blue", headers: []string{"Prefer", "handling=strict"}, wantStatus: 400},
			{name: "summary count", method: "GET", path: "/Patient?_summary=count", wantStatus: 200, wantBody: []string{`"total":1`}},
			{name: "minimal", method: "POST", path: "/Location", body: `{"resourceType":"Location","name":"Ward 7","status":"active"}`,
				headers: []string{"Prefer", "return=minimal"}, wantStatus: 201},
			{name: "outcome", method: "POST", path: "/Location", body: `{"resourceType":"Location","name":"Ward 8"}`,
				headers: []string{"Prefer", "return=OperationOutcome"}, wantStatus: 201, wantBody: []string{`"OperationOutcome"`, "created Location/"}},
			{name: "conditional create exists", method: "POST", path: "/Patient", body: patientA,
				headers: []string{"If-None-Exist", "identifier=urn:oid:1.2.3|A-1"}, wantStatus: 201},
			{name: "conditional create matches", method: "POST", path: "/Patient", body: patientA,
				headers: []string{"If-None-Exist", "identifier=urn:oid:1.2.3|A-1"}, wantStatus: 200},
			{name: "conditional update", method: "PUT", path: "/Patient?identifier=urn:oid:1.2.3|A-1", body: patientA, wantStatus: 200,
				wantHeader: map[string]string{"ETag": `^W/"2"$`}},
			{name: "delete", method: "DELETE", path: "/Patient/{a}", wantStatus: 200},
			{name: "read deleted", method: "GET", path: "/Patient/{a}", wantStatus: 410},
			{name: "conditional delete", method: "DELETE", path: "/Patient?identifier=urn:oid:1.2.3|A-1", wantStatus: 200},
			{name: "conditional delete none", method: "DELETE", path: "/Patient?identifier=urn:oid:1.2.3|A-1", wantStatus: 404},
			{name: "update as create", method: "PUT", path: "/Practitioner/dr-who", body: `{"resourceType":"Practitioner","id":"dr-who","name":[{"family":"Smith"}]}`,
				wantStatus: 201, wantHeader: map[string]string{"Location": `/fhir/Practitioner/dr-who/_history/1$`}},
			{name: "transaction", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[
				{"fullUrl":"urn:uuid:3b0a1b1e-0000-4000-8000-000000000001","resource":{"resourceType":"Practitioner","name":[{"family":"Gp"}]},"request":{"method":"POST","url":"Practitioner"}},
				{"resource":{"resourceType":"Patient","name":[{"family":"Tx"}],"generalPractitioner":[{"reference":"urn:uuid:3b0a1b1e-0000-4000-8000-000000000001"}]},"request":{"method":"POST","url":"Patient"}}]}`,
				wantStatus: 200, wantBody: []string{`"type":"transaction-response"`, `"status":"201 Created"`}},
			{name: "golden records are idem's", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":{"resourceType":"Person","name":[{"family":"Forged"}]},"request":{"method":"POST","url":"Person"}}]}`,
				wantStatus: 403, wantBody: []string{"server-managed"}},
			{name: "revinclude", method: "GET", path: "/Patient?family=tx&_revinclude=Person:link", wantStatus: 200, wantBody: []string{`"mode":"include"`}},
		})
	})
}

func TestBadInput(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		big := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q}]}`, strings.Repeat("x", 2<<20))
		runSteps(t, s, []step{
			{name: "invalid JSON", method: "POST", path: "/Patient", body: `{"resourceType":"Patient",`, wantStatus: 400},
			{name: "not an object", method: "POST", path: "/Patient", body: `[1,2]`, wantStatus: 400},
			{name: "duplicate key", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","gender":"male","gender":"female"}`,
				wantStatus: 400, wantBody: []string{"Patient.gender"}},
			{name: "unknown element", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","colour":"blue"}`,
				wantStatus: 400, wantBody: []string{"Patient.colour"}},
			{name: "bad gender", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","gender":"xyz"}`,
				wantStatus: 422, wantBody: []string{"Patient.gender"}},
			{name: "impossible date", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","birthDate":"1990-02-30"}`,
				wantStatus: 422, wantBody: []string{"Patient.birthDate"}},
			{name: "nested bad value", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","name":[{"use":"nick"}]}`,
				wantStatus: 422, wantBody: []string{"Patient.name[0].use"}},
			{name: "wrong type for endpoint", method: "POST", path: "/Patient", body: `{"resourceType":"Location"}`, wantStatus: 400},
			{name: "unknown type", method: "GET", path: "/Observation", wantStatus: 404},
			{name: "id mismatch", method: "PUT", path: "/Patient/p1", body: `{"resourceType":"Patient","id":"p2"}`, wantStatus: 400, wantBody: []string{"Patient.id"}},
			{name: "missing id", method: "PUT", path: "/Patient/p1", body: `{"resourceType":"Patient"}`, wantStatus: 400},
			{name: "bad id", method: "PUT", path: "/Patient/bad$id", body: `{"resourceType":"Patient","id":"bad$id"}`, wantStatus: 422},
			{name: "empty body", method: "POST", path: "/Patient", wantStatus: 400},
			{name: "too large", method: "POST", path: "/Patient", body: big, wantStatus: 413},
			{name: "xml body", method: "POST", path: "/Patient", body: `<Patient/>`, headers: []string{"Content-Type", "application/fhir+xml"}, wantStatus: 415},
			{name: "xml accept", method: "GET", path: "/metadata", headers: []string{"Accept", "application/fhir+xml"}, wantStatus: 406},
			{name: "xml format", method: "GET", path: "/metadata?_format=xml", wantStatus: 406},
			{name: "bad If-Match", method: "PUT", path: "/Patient/p1", body: `{"resourceType":"Patient","id":"p1"}`, headers: []string{"If-Match", "nonsense"}, wantStatus: 400},
			{name: "bad date search", method: "GET", path: "/Patient?birthdate=1990-13", wantStatus: 400},
			{name: "bad count", method: "GET", path: "/Patient?_count=-1", wantStatus: 400},
			{name: "bad sort", method: "GET", path: "/Patient?_sort=gender", wantStatus: 400},
			{name: "bad cursor", method: "GET", path: "/Patient?_cursor=zzz", wantStatus: 400},
			{name: "patch", method: "PATCH", path: "/Patient/p1", body: `[]`, wantStatus: 405},
			{name: "bad bundle type", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"collection"}`, wantStatus: 400},
			{name: "bundle bad entry", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":{"resourceType":"Patient","name":[{"family":"Half"}]},"request":{"method":"POST","url":"Patient"}},
				{"resource":{"resourceType":"Patient","gender":"xyz"},"request":{"method":"POST","url":"Patient"}}]}`,
				wantStatus: 422, wantBody: []string{"Bundle.entry[1].resource.gender"}},
			{name: "nothing stored", method: "GET", path: "/Patient?_summary=count", wantStatus: 200, wantBody: []string{`"total":0`}},
		})
		r := s.do("GET", "/Patient/_history", "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"total":0`) {
			t.Fatalf("bad input left history behind: %s", r.body)
		}
	})
}
