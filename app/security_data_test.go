package app

import (
	"strings"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// writeAttack is one request an attacker sends, what it must get, and the
// stored record that must not have changed (read back as the admin).
type writeAttack struct {
	name               string
	token              string
	method, path, body string
	headers            []string
	want               int
	wantBody           string
	unchanged          string // "Patient/id" whose current version must stay as it was
	noneNamed          string // family name no Patient may have after the request
}

// runAttacks sends each attack and checks its status, its message, and
// that it left nothing behind.
func runAttacks(t *testing.T, s *testServer, attacks []writeAttack) {
	t.Helper()
	for _, a := range attacks {
		var before string
		if a.unchanged != "" {
			before = s.storedBody(a.unchanged)
		}
		headers := append([]string{}, a.headers...)
		if a.token != "" {
			headers = append(headers, bearer(a.token)...)
		}
		r := s.do(a.method, a.path, a.body, headers...)
		if r.status != a.want || !strings.Contains(string(r.body), a.wantBody) {
			t.Errorf("%s: %d %s, want %d with %q", a.name, r.status, truncate(r.body), a.want, a.wantBody)
		}
		if r.status >= 400 && !strings.Contains(string(r.body), `"OperationOutcome"`) {
			t.Errorf("%s: error without an OperationOutcome: %s", a.name, truncate(r.body))
		}
		if a.unchanged != "" {
			if after := s.storedBody(a.unchanged); after != before {
				t.Errorf("%s: %s changed:\n before %s\n after  %s", a.name, a.unchanged, before, after)
			}
		}
		if a.noneNamed != "" {
			if n := total(t, s.do("GET", "/Patient?_summary=count&family="+a.noneNamed, "")); n != 0 {
				t.Errorf("%s: refused write left %d Patients named %s", a.name, n, a.noneNamed)
			}
		}
	}
}

// storedBody is the current version of ref as the admin reads it, with its
// status (a deleted record reads as 410).
func (s *testServer) storedBody(ref string) string {
	s.t.Helper()
	r := s.do("GET", "/"+ref, "")
	return string(r.body) + " " + r.header.Get("ETag")
}

// createAs creates a resource with token and returns its id.
func (s *testServer) createAs(token, typ, body string) string {
	s.t.Helper()
	r := s.do("POST", "/"+typ, body, append(bearer(token), "Prefer", "return=representation")...)
	if r.status != 201 {
		s.t.Fatalf("create %s: %d %s", typ, r.status, truncate(r.body))
	}
	return r.json(s.t)["id"].(string)
}

func withID(body, id string) string {
	return strings.Replace(body, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+id+`",`, 1)
}

func transaction(kind string, entries ...string) string {
	return `{"resourceType":"Bundle","type":"` + kind + `","entry":[` + strings.Join(entries, ",") + `]}`
}

func entry(method, url, resource string) string {
	e := `{"request":{"method":"` + method + `","url":"` + url + `"}`
	if resource != "" {
		e += `,"resource":` + resource
	}
	return e + "}"
}

// TestSecurityRecordOwnership: a source client can neither update nor
// delete a record another client wrote, by any route (finding 2).
func TestSecurityRecordOwnership(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
		// Sources may delete here, so that only ownership stands in the way.
		if status, out := s.admin("POST", "/rules", `{"rule":"p, role:source, Patient, *, delete, allow"}`); status != 201 && status != 200 && status != 204 {
			t.Fatalf("add rule: %d %v", status, out)
		}
		id := s.createAs(ehr, "Patient", ehrPatient("http://ehr.example/mrn", "E1", "Owned"))
		gone := s.createAs(ehr, "Patient", ehrPatient("http://ehr.example/mrn", "E2", "Buried"))
		if r := s.do("DELETE", "/Patient/"+gone, "", bearer(ehr)...); r.status != 200 {
			t.Fatalf("owner's delete: %d", r.status)
		}
		ref, goneRef := "Patient/"+id, "Patient/"+gone
		mine := ehrPatient("http://gp.example/mrn", "G1", "Taken")
		attacks := []writeAttack{
			{name: "PUT another's record", token: gp, method: "PUT", path: "/" + ref, body: withID(mine, id),
				want: 403, wantBody: "owned by client ehr-main", unchanged: ref, noneNamed: "Taken"},
			{name: "PUT with If-Match", token: gp, method: "PUT", path: "/" + ref, body: withID(mine, id), headers: []string{"If-Match", `W/"1"`},
				want: 403, wantBody: "owned by", unchanged: ref},
			{name: "PUT with no identifier at all", token: gp, method: "PUT", path: "/" + ref, body: `{"resourceType":"Patient","id":"` + id + `","gender":"other"}`,
				want: 403, wantBody: "owned by", unchanged: ref},
			{name: "conditional update by identifier", token: gp, method: "PUT", path: "/Patient?identifier=http://ehr.example/mrn|E1", body: mine,
				want: 403, wantBody: "owned by", unchanged: ref, noneNamed: "Taken"},
			{name: "DELETE another's record", token: gp, method: "DELETE", path: "/" + ref, want: 403, wantBody: "owned by", unchanged: ref},
			{name: "conditional DELETE", token: gp, method: "DELETE", path: "/Patient?identifier=http://ehr.example/mrn|E1", want: 403, wantBody: "owned by", unchanged: ref},
			{name: "PUT onto a deleted record's id", token: gp, method: "PUT", path: "/" + goneRef, body: withID(mine, gone),
				want: 403, wantBody: "owned by", unchanged: goneRef, noneNamed: "Taken"},
			{name: "transaction PUT", token: gp, method: "POST", path: "", body: transaction("transaction", entry("PUT", ref, withID(mine, id))),
				want: 403, wantBody: "Bundle.entry[0]", unchanged: ref, noneNamed: "Taken"},
			{name: "transaction conditional PUT", token: gp, method: "POST", path: "", body: transaction("transaction",
				entry("POST", "Patient", ehrPatient("http://gp.example/mrn", "G7", "Innocent")),
				entry("PUT", "Patient?identifier=http://ehr.example/mrn|E1", mine)),
				want: 403, wantBody: "owned by", unchanged: ref, noneNamed: "Innocent"},
			{name: "transaction DELETE", token: gp, method: "POST", path: "", body: transaction("transaction", entry("DELETE", ref, "")),
				want: 403, wantBody: "owned by", unchanged: ref},
			{name: "transaction conditional DELETE", token: gp, method: "POST", path: "", body: transaction("transaction", entry("DELETE", "Patient?identifier=http://ehr.example/mrn|E1", "")),
				want: 403, wantBody: "owned by", unchanged: ref},
			{name: "batch PUT: the entry is refused", token: gp, method: "POST", path: "", body: transaction("batch", entry("PUT", ref, withID(mine, id))),
				want: 200, wantBody: `"status":"403`, unchanged: ref, noneNamed: "Taken"},
			{name: "batch DELETE: the entry is refused", token: gp, method: "POST", path: "", body: transaction("batch", entry("DELETE", ref, "")),
				want: 200, wantBody: `"status":"403`, unchanged: ref},
			{name: "meta.source claiming the owner's URL", token: gp, method: "PUT", path: "/" + ref,
				body: withID(strings.Replace(mine, "http://ehr.example/fhir/Patient/G1", "http://ehr.example/fhir/Patient/E1", 1), id),
				want: 403, wantBody: "owned by", unchanged: ref},
		}
		runAttacks(t, s, attacks)
		// The owner and the admin still may.
		if r := s.do("PUT", "/"+ref, withID(ehrPatient("http://ehr.example/mrn", "E1", "Renamed"), id), bearer(ehr)...); r.status != 200 {
			t.Errorf("owner's update: %d %s", r.status, truncate(r.body))
		}
		if r := s.do("PUT", "/"+ref, withID(ehrPatient("http://ehr.example/mrn", "E1", "Fixed"), id)); r.status != 200 {
			t.Errorf("admin's update: %d %s", r.status, truncate(r.body))
		}
		if r := s.do("PUT", "/"+ref, withID(ehrPatient("http://ehr.example/mrn", "E1", "Again"), id), bearer(ehr)...); r.status != 200 {
			t.Errorf("owner's update after the admin's: %d %s", r.status, truncate(r.body))
		}
	})
}

// An authoritative client in source-of-truth mode may correct any record
// of its type; others may not.
func TestSecurityOwnershipSourceOfTruth(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) {
		c.Sharing = "Patient=source-of-truth"
		c.Authoritative = "Patient=ehr-main,Patient=gp"
	})
	ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
	gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"]}`)
	id := s.createAs(ehr, "Patient", ehrPatient("http://ehr.example/mrn", "E1", "Truth"))
	if r := s.do("PUT", "/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","gender":"other"}`, bearer(gp)...); r.status != 200 {
		t.Errorf("authoritative client's update of another's record: %d %s", r.status, truncate(r.body))
	}
}

// TestSecurityIdentifierDomains: domain checks compare canonical systems
// and see identifiers anywhere in the resource.
func TestSecurityIdentifierDomains(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn","urn:oid:1.2.3"]}`)
		gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
		poach := func(system string) string { return ehrPatient(system, "X1", "Poacher") }
		var attacks []writeAttack
		for _, sys := range []string{"HTTP://EHR.example/mrn", "http://ehr.EXAMPLE/mrn/", "https://ehr.example/mrn", "http://ehr.example:80/mrn",
			"http://ehr.example/mrn//", "urn:OID:1.2.3", "URN:oid:1.2.3", "1.2.3", "urn:oid:1.2.3/"} {
			attacks = append(attacks, writeAttack{name: "system " + sys, token: gp, method: "POST", path: "/Patient", body: poach(sys),
				want: 403, wantBody: "owned by ehr-main", noneNamed: "Poacher"})
		}
		contained := `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"c1","identifier":[{"system":"http://ehr.example/mrn","value":"X2"}]}],"name":[{"family":"Poacher"}]}`
		extension := `{"resourceType":"Patient","extension":[{"url":"http://x.example/e","valueIdentifier":{"system":"http://ehr.example/mrn","value":"X4"}}],"name":[{"family":"Poacher"}]}`
		nested := `{"resourceType":"Patient","link":[{"other":{"identifier":{"system":"http://ehr.example/mrn","value":"X3"}},"type":"seealso"}],"name":[{"family":"Poacher"}]}`
		attacks = append(attacks,
			writeAttack{name: "identifier in a contained resource", token: gp, method: "POST", path: "/Patient", body: contained, want: 403, wantBody: "owned by ehr-main", noneNamed: "Poacher"},
			writeAttack{name: "identifier in a reference", token: gp, method: "POST", path: "/Patient", body: nested, want: 403, wantBody: "owned by ehr-main", noneNamed: "Poacher"},
			writeAttack{name: "identifier in an extension", token: gp, method: "POST", path: "/Patient", body: extension, want: 403, wantBody: "owned by ehr-main", noneNamed: "Poacher"},
			writeAttack{name: "space around the system is no valid uri", token: gp, method: "POST", path: "/Patient", body: poach(" http://ehr.example/mrn"), want: 422, noneNamed: "Poacher"},
			writeAttack{name: "in a Bundle entry", token: gp, method: "POST", path: "", body: transaction("transaction", entry("POST", "Patient", contained)),
				want: 403, wantBody: "owned by ehr-main", noneNamed: "Poacher"},
		)
		runAttacks(t, s, attacks)
		// A client may still use its own domain in any spelling.
		if r := s.do("POST", "/Patient", ehrPatient("HTTP://GP.example/mrn/", "G1", "Mine"), bearer(gp)...); r.status != 201 {
			t.Errorf("own domain, other spelling: %d %s", r.status, truncate(r.body))
		}
		// And a second client cannot register a domain that differs only in spelling.
		if status, out := s.admin("POST", "/clients", `{"name":"copycat","system":"http://copy.example/fhir","roles":["source"],"domains":["HTTP://ehr.example/mrn/"]}`); status != 409 {
			t.Errorf("registering another's domain in another spelling: %d %v", status, out)
		}
	})
}

// manyOf returns n copies of item joined as JSON array members.
func manyOf(item string, n int) string {
	return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
}

// TestSecurityRepeatLimits: no element repeats without bound (finding 3).
func TestSecurityRepeatLimits(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
		id := s.createAs(gp, "Patient", ehrPatient("http://gp.example/mrn", "G1", "Small"))
		ref := "Patient/" + id
		patient := func(members string) string {
			return `{"resourceType":"Patient",` + members + `,"name":[{"family":"Huge"}]}`
		}
		ident := `{"system":"http://gp.example/mrn","value":"v"}`
		attacks := []writeAttack{
			{name: "101 identifiers", token: gp, method: "POST", path: "/Patient", body: patient(`"identifier":[` + manyOf(ident, 101) + `]`),
				want: 422, wantBody: "Patient.identifier", noneNamed: "Huge"},
			{name: "20000 identifiers", token: gp, method: "POST", path: "/Patient", body: patient(`"identifier":[` + manyOf(ident, 20000) + `]`),
				want: 422, wantBody: "Patient.identifier", noneNamed: "Huge"},
			{name: "21 names", token: gp, method: "POST", path: "/Patient", body: `{"resourceType":"Patient","name":[` + manyOf(`{"family":"Huge"}`, 21) + `]}`,
				want: 422, wantBody: "Patient.name", noneNamed: "Huge"},
			{name: "51 telecoms", token: gp, method: "POST", path: "/Patient", body: patient(`"telecom":[` + manyOf(`{"system":"phone","value":"1"}`, 51) + `]`),
				want: 422, wantBody: "Patient.telecom", noneNamed: "Huge"},
			{name: "21 addresses", token: gp, method: "POST", path: "/Patient", body: patient(`"address":[` + manyOf(`{"city":"X"}`, 21) + `]`),
				want: 422, wantBody: "Patient.address", noneNamed: "Huge"},
			{name: "101 extensions", token: gp, method: "POST", path: "/Patient", body: patient(`"extension":[` + manyOf(`{"url":"http://x.example/e","valueString":"x"}`, 101) + `]`),
				want: 422, wantBody: "Patient.extension", noneNamed: "Huge"},
			{name: "21 given names", token: gp, method: "POST", path: "/Patient", body: `{"resourceType":"Patient","name":[{"family":"Huge","given":[` + manyOf(`"A"`, 21) + `]}]}`,
				want: 422, wantBody: "Patient.name[0].given", noneNamed: "Huge"},
			{name: "1001 address lines (the general cap)", token: gp, method: "POST", path: "/Patient", body: patient(`"address":[{"line":[` + manyOf(`"l"`, 1001) + `]}]`),
				want: 422, wantBody: "Patient.address[0].line", noneNamed: "Huge"},
			{name: "21 contained resources", token: gp, method: "POST", path: "/Patient", body: patient(`"contained":[` + manyOf(`{"resourceType":"Organization","name":"o"}`, 21) + `]`),
				want: 422, wantBody: "Patient.contained", noneNamed: "Huge"},
			{name: "identifiers of a contained resource", token: gp, method: "POST", path: "/Patient", body: patient(`"contained":[{"resourceType":"Patient","id":"c","identifier":[` + manyOf(ident, 101) + `]}]`),
				want: 422, wantBody: "Patient.contained[0].identifier", noneNamed: "Huge"},
			{name: "an update", token: gp, method: "PUT", path: "/" + ref, body: `{"resourceType":"Patient","id":"` + id + `","identifier":[` + manyOf(ident, 101) + `]}`,
				want: 422, wantBody: "Patient.identifier", unchanged: ref},
			{name: "in a transaction", token: gp, method: "POST", path: "", body: transaction("transaction", entry("POST", "Patient", patient(`"identifier":[`+manyOf(ident, 101)+`]`))),
				want: 422, wantBody: "Bundle.entry[0].resource.identifier", noneNamed: "Huge"},
			{name: "in $match", token: gp, method: "POST", path: "/Patient/$match", body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + patient(`"identifier":[`+manyOf(ident, 101)+`]`) + `}]}`,
				want: 422, wantBody: "identifier"},
		}
		runAttacks(t, s, attacks)
		if r := s.do("POST", "/Patient", patient(`"identifier":[`+manyOf(ident, 100)+`]`), bearer(gp)...); r.status != 201 {
			t.Errorf("100 identifiers (the limit): %d %s", r.status, truncate(r.body))
		}
	})
}

// The limits are configuration.
func TestSecurityRepeatLimitsConfigured(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.MaxRepeats = "identifier=2,*=5" })
	two := `{"system":"http://x.example/id","value":"v"}`
	if r := s.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[`+manyOf(two, 3)+`]}`); r.status != 422 || !strings.Contains(string(r.body), "Patient.identifier") {
		t.Errorf("3 identifiers over a limit of 2: %d %s", r.status, truncate(r.body))
	}
	if r := s.do("POST", "/Patient", `{"resourceType":"Patient","address":[{"line":[`+manyOf(`"A"`, 6)+`]}]}`); r.status != 422 {
		t.Errorf("6 address lines over a general limit of 5: %d %s", r.status, truncate(r.body))
	}
	if r := s.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[`+manyOf(two, 2)+`]}`); r.status != 201 {
		t.Errorf("2 identifiers: %d %s", r.status, truncate(r.body))
	}
}

// TestSecurityControlCharacters: characters FHIR strings forbid are invalid
// input on every backend, never a 500 (finding 5).
func TestSecurityControlCharacters(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAs(testAdminToken, "Patient", ehrPatient("http://ehr.example/mrn", "E1", "Clean"))
		ref := "Patient/" + id
		nul := `{"resourceType":"Patient","name":[{"family":"A\u0000B"}]}`
		ctl := func(esc string) string { return `{"resourceType":"Patient","name":[{"family":"Ctl` + esc + `"}]}` }
		attacks := []writeAttack{
			{name: "NUL in a string", method: "POST", path: "/Patient", body: nul, want: 400, wantBody: "Patient.name[0].family"},
			{name: "U+0001", method: "POST", path: "/Patient", body: ctl(`\u0001`), want: 400, wantBody: "Patient.name[0].family", noneNamed: "Ctl"},
			{name: "form feed", method: "POST", path: "/Patient", body: ctl(`\f`), want: 400, noneNamed: "Ctl"},
			{name: "backspace", method: "POST", path: "/Patient", body: ctl(`\b`), want: 400, noneNamed: "Ctl"},
			{name: "U+001F", method: "POST", path: "/Patient", body: ctl(`\u001f`), want: 400, noneNamed: "Ctl"},
			{name: "NUL in a key", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","extension":[{"url":"http://x.example/e","valueString":"x"}],"na\u0000me":[{"family":"Ctl"}]}`, want: 400},
			{name: "NUL in an update", method: "PUT", path: "/" + ref, body: `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"A\u0000B"}]}`, want: 400, unchanged: ref},
			{name: "NUL in an identifier system", method: "POST", path: "/Patient", body: `{"resourceType":"Patient","identifier":[{"system":"http://x\u0000","value":"1"}]}`, want: 400},
			{name: "NUL in a search value", method: "GET", path: "/Patient?family=A%00B", want: 400, wantBody: "family"},
			{name: "NUL in a search parameter name", method: "GET", path: "/Patient?fam%00ily=A", want: 400},
			{name: "NUL in an identifier search", method: "GET", path: "/Patient?identifier=http://x.example|A%00", want: 400},
			{name: "NUL in _include", method: "GET", path: "/Patient?_include=Patient:link%00", want: 400},
			{name: "NUL in a POST _search body", method: "POST", path: "/Patient/_search", body: "family=A%00B", headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, want: 400},
			// Ids in the URL path are not percent-decoded: "A%00B" is an id
			// that does not exist, on every backend.
			{name: "%00 in a read id", method: "GET", path: "/Patient/A%00B", want: 404},
			{name: "%00 in a vread id", method: "GET", path: "/Patient/A%00B/_history/1", want: 404},
			{name: "%00 in a history id", method: "GET", path: "/Patient/A%00B/_history", want: 404},
			{name: "%00 in a delete id", method: "DELETE", path: "/Patient/A%00B", want: 404},
			{name: "NUL in conditional delete criteria", method: "DELETE", path: "/Patient?identifier=A%00", want: 400},
			{name: "NUL in conditional update criteria", method: "PUT", path: "/Patient?identifier=A%00", body: ctl(""), want: 400, noneNamed: "Ctl"},
			{name: "NUL in If-None-Exist", method: "POST", path: "/Patient", body: ctl(""), headers: []string{"If-None-Exist", "identifier=A%00"}, want: 400, noneNamed: "Ctl"},
			{name: "NUL in a Bundle entry resource", method: "POST", path: "", body: transaction("transaction", entry("POST", "Patient", nul)), want: 400, wantBody: "Bundle.entry[0].resource.name[0].family"},
			{name: "NUL in a Bundle fullUrl", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:\u0000","resource":` + ctl("") + `,"request":{"method":"POST","url":"Patient"}}]}`,
				want: 400, noneNamed: "Ctl"},
			{name: "NUL in a Bundle entry url", method: "POST", path: "", body: transaction("transaction", entry("DELETE", `Patient/A\u0000B`, "")), want: 400, wantBody: "Bundle.entry[0].request.url"},
			{name: "%00 in a Bundle entry url id", method: "POST", path: "", body: transaction("transaction", entry("DELETE", `Patient/A%00B`, "")), want: 404},
			{name: "NUL in a Bundle entry query", method: "POST", path: "", body: transaction("transaction", entry("GET", `Patient?family=A%00B`, "")), want: 400},
			{name: "NUL in a batch entry query", method: "POST", path: "", body: transaction("batch", entry("GET", `Patient?family=A%00B`, "")), want: 200, wantBody: `"status":"400`},
			{name: "NUL in a Bundle ifNoneExist", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + ctl("") + `,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=A%00"}}]}`,
				want: 400, noneNamed: "Ctl"},
			{name: "NUL in a conditional reference", method: "POST", path: "", body: transaction("transaction", entry("POST", "Patient",
				`{"resourceType":"Patient","name":[{"family":"Ctl"}],"link":[{"other":{"reference":"Patient?identifier=A%00"},"type":"seealso"}]}`)),
				want: 400, noneNamed: "Ctl"},
			{name: "NUL in $match", method: "POST", path: "/Patient/$match", body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + nul + `}]}`, want: 400},
			{name: "NUL in an $mdm query", method: "GET", path: "/$mdm-query-links?resourceId=Patient/A%00B", want: 400},
		}
		runAttacks(t, s, attacks)
		// Tab, CR and LF are allowed.
		if r := s.do("POST", "/Patient", ctl(`\t\r\n`)); r.status != 201 {
			t.Errorf("tab, CR, LF: %d %s", r.status, truncate(r.body))
		}
	})
}

// TestSecurityPolicyChangesAtOnce: a change made by another process (the
// CLI, another instance) is in force on the very next request (finding 8).
func TestSecurityPolicyChangesAtOnce(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			s := startOn(t, dsn)
			gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"]}`)
			// The CLI registers an owner of a domain: gp's very next write into it is refused.
			run(t, dsn, "client", "add", "late", "--system", "http://late.example/fhir", "--role", "source", "--domain", "http://late.example/mrn")
			runAttacks(t, s, []writeAttack{{name: "write into a domain just registered elsewhere", token: gp, method: "POST", path: "/Patient",
				body: ehrPatient("http://late.example/mrn", "L1", "Latecomer"), want: 403, wantBody: "owned by late", noneNamed: "Latecomer"}})
			// The CLI revokes gp: its very next request is refused.
			if r := s.do("GET", "/Patient", "", bearer(gp)...); r.status != 200 {
				t.Fatalf("before revocation: %d", r.status)
			}
			run(t, dsn, "client", "revoke", "gp")
			if r := s.do("GET", "/Patient", "", bearer(gp)...); r.status != 401 {
				t.Errorf("revoked by the CLI, next request: %d", r.status)
			}
		})
	}
}

// Two instances on one PostgreSQL: a revocation or a new domain owner on
// one is in force on the other's next request.
func TestSecurityPolicyAcrossInstances(t *testing.T) {
	dsn := sqltest.DSN(t, "postgres")
	a, b := startOn(t, dsn), startOn(t, dsn)
	gp := a.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"]}`)
	if r := b.do("GET", "/Patient", "", bearer(gp)...); r.status != 200 {
		t.Fatalf("b before revocation: %d", r.status)
	}
	a.addClient(`{"name":"late","system":"http://late.example/fhir","roles":["source"],"domains":["http://late.example/mrn"]}`)
	runAttacks(t, b, []writeAttack{{name: "on b, a domain a just registered", token: gp, method: "POST", path: "/Patient",
		body: ehrPatient("http://late.example/mrn", "L1", "Latecomer"), want: 403, wantBody: "owned by late", noneNamed: "Latecomer"}})
	if status, _ := a.admin("DELETE", "/clients/gp", ""); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	if r := b.do("GET", "/Patient", "", bearer(gp)...); r.status != 401 {
		t.Errorf("b after revocation on a: %d", r.status)
	}
}
