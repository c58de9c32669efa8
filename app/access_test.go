package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// admin calls the admin API with the admin token.
func (s *testServer) admin(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.Instance.URL()+"/admin/api"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// addClient registers a client through the admin API and returns its token.
func (s *testServer) addClient(body string) string {
	s.t.Helper()
	status, out := s.admin("POST", "/clients", body)
	token, _ := out["token"].(string)
	if status != 201 || token == "" {
		s.t.Fatalf("add client %s: %d %v", body, status, out)
	}
	return token
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func ehrPatient(system, value, family string) string {
	return `{"resourceType":"Patient","meta":{"source":"http://ehr.example/fhir/Patient/` + value + `"},"identifier":[{"system":"` + system +
		`","value":"` + value + `"}],"name":[{"family":"` + family + `","given":["Ann"]}],"birthDate":"1980-01-02"}`
}

// TestAccessControl runs (client, interaction) → allowed or refused, with
// the rule, through the real HTTP API, and checks refused writes leave no
// row behind.
func TestAccessControl(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
		lab := s.addClient(`{"name":"lab-east","system":"http://lab.example/fhir","roles":["reader"]}`)
		type call struct {
			name                 string
			token                string
			method, path, body   string
			want                 int
			wantBody             string
			leavesNoPatientNamed string
		}
		calls := []call{
			{name: "no token", method: "GET", path: "/Patient", want: 401},
			{name: "bad token", token: "idem_nonsense", method: "GET", path: "/Patient", want: 401},
			{name: "metadata is public", method: "GET", path: "/metadata", want: 200},
			{name: "unknown type is 404, not 403", token: lab, method: "GET", path: "/Observation", want: 404},
			{name: "source creates in its domain", token: ehr, method: "POST", path: "/Patient", body: ehrPatient("http://ehr.example/mrn", "E1", "Owned"), want: 201},
			{name: "source assigns another's domain", token: ehr, method: "POST", path: "/Patient", body: ehrPatient("http://gp.example/mrn", "G1", "Poacher"),
				want: 403, wantBody: "owned by gp", leavesNoPatientNamed: "Poacher"},
			{name: "reader may not create", token: lab, method: "POST", path: "/Patient", body: `{"resourceType":"Patient","name":[{"family":"Labby"}]}`,
				want: 403, wantBody: "lab-east", leavesNoPatientNamed: "Labby"},
			{name: "reader may not write in a Bundle", token: lab, method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":{"resourceType":"Patient","name":[{"family":"Bundled"}]},"request":{"method":"POST","url":"Patient"}}]}`,
				want: 403, wantBody: "Bundle.entry[0]", leavesNoPatientNamed: "Bundled"},
			{name: "source's Bundle into another's domain", token: gp, method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":` + ehrPatient("http://gp.example/mrn", "G2", "Fine") + `,"request":{"method":"POST","url":"Patient"}},
				{"resource":` + ehrPatient("http://ehr.example/mrn", "E9", "Grabbed") + `,"request":{"method":"POST","url":"Patient"}}]}`,
				want: 403, wantBody: "owned by ehr-main", leavesNoPatientNamed: "Fine"},
			{name: "reader reads", token: lab, method: "GET", path: "/Patient?family=owned", want: 200},
			{name: "reader matches", token: lab, method: "POST", path: "/Patient/$match",
				body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Owned"}],"birthDate":"1980-01-02"}}]}`, want: 200},
			{name: "reader may not decide links", token: lab, method: "POST", path: "/$mdm-update-link",
				body: `{"resourceType":"Parameters","parameter":[{"name":"goldenResourceId","valueString":"Person/x"},{"name":"resourceId","valueString":"Patient/y"},{"name":"matchResult","valueString":"MATCH"}]}`, want: 403},
			{name: "nobody writes golden records", token: ehr, method: "POST", path: "/Person", body: `{"resourceType":"Person","name":[{"family":"Forged"}]}`, want: 403, wantBody: "server-managed"},
			{name: "audit is for admins", token: ehr, method: "GET", path: "/AuditEvent", want: 403, wantBody: "admins"},
			{name: "nor through _revinclude", token: ehr, method: "GET", path: "/Patient?_revinclude=AuditEvent:entity", want: 403, wantBody: "admins"},
			{name: "nobody writes audit events", method: "POST", path: "/AuditEvent", body: `{"resourceType":"AuditEvent"}`, want: 403, wantBody: "server-managed"},
			{name: "admin reads audit", method: "GET", path: "/AuditEvent", want: 200},
		}
		for _, c := range calls {
			headers := []string{"Authorization", ""}
			switch {
			case c.token != "":
				headers = bearer(c.token)
			case c.name == "admin reads audit" || c.name == "nobody writes audit events":
				headers = nil
			}
			r := s.do(c.method, c.path, c.body, headers...)
			if r.status != c.want || !strings.Contains(string(r.body), c.wantBody) {
				t.Errorf("%s: %d %s, want %d with %q", c.name, r.status, truncate(r.body), c.want, c.wantBody)
			}
			if c.want == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", c.name)
			}
			if c.leavesNoPatientNamed != "" {
				if n := total(t, s.do("GET", "/Patient?_summary=count&family="+c.leavesNoPatientNamed, "")); n != 0 {
					t.Errorf("%s: refused write left %d Patients behind", c.name, n)
				}
			}
		}
		// meta.source is the writing client's, whatever the client says.
		r := s.do("POST", "/Patient", `{"resourceType":"Patient","meta":{"source":"http://lab.example/fhir/Patient/1"},"name":[{"family":"Spoof"}]}`, bearer(ehr)...)
		if r.status != 201 || !strings.Contains(string(r.body), `"source":"http://ehr.example/fhir"`) {
			t.Errorf("spoofed meta.source: %d %s", r.status, truncate(r.body))
		}
		// Revoked: the token stops working.
		if status, _ := s.admin("DELETE", "/clients/lab-east", ""); status != 204 {
			t.Fatalf("revoke: %d", status)
		}
		if r := s.do("GET", "/Patient", "", bearer(lab)...); r.status != 401 {
			t.Errorf("revoked token: %d", r.status)
		}
		// The dry run names the rule.
		status, out := s.admin("GET", "/decide?client=gp&action=create&type=Patient&domain=http://ehr.example/mrn", "")
		if status != 200 || out["allowed"] != false || !strings.Contains(out["reason"].(string), "ehr-main") {
			t.Errorf("dry run: %d %v", status, out)
		}
		// Every denial and every write is in the audit trail.
		if n := total(t, s.do("GET", "/AuditEvent?_summary=count&outcome=4", "")); n < 6 {
			t.Errorf("denials audited: %d, want at least 6", n)
		}
		if n := total(t, s.do("GET", "/AuditEvent?_summary=count&subtype=create&agent-name=ehr-main", "")); n < 2 {
			t.Errorf("ehr-main's creates audited: %d", n)
		}
		if status, out := s.admin("DELETE", "/clients/nobody", ""); status != 404 || out["resourceType"] != "OperationOutcome" {
			t.Errorf("revoke of an unknown client: %d %v", status, out)
		}
		if status, out := s.admin("POST", "/clients", "{bad"); status != 400 || out["resourceType"] != "OperationOutcome" {
			t.Errorf("malformed client: %d %v", status, out)
		}
		if status, _ := s.admin("GET", "/clients", ""); status != 200 {
			t.Errorf("client list: %d", status)
		}
		if r := s.do("GET", "/../admin/api/clients", "", bearer(ehr)...); r.status == 200 {
			t.Errorf("a source client reached the admin API")
		}
	})
}

// total reads the total of a searchset.
func total(t *testing.T, r *response) int {
	t.Helper()
	var b struct{ Total int }
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", truncate(r.body))
	}
	return b.Total
}

func TestSharingModes(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) {
		c.Sharing = "Patient=source-of-truth,Practitioner=independent,Location=shared-registry"
		c.Authoritative = "Patient=ehr-main"
	})
	ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
	gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
	lab := s.addClient(`{"name":"lab-east","system":"http://lab.example/fhir","roles":["reader"]}`)
	// source-of-truth: only the authoritative client writes Patients.
	if r := s.do("POST", "/Patient", ehrPatient("http://ehr.example/mrn", "E1", "Truth"), bearer(ehr)...); r.status != 201 {
		t.Fatalf("authoritative create: %d %s", r.status, truncate(r.body))
	}
	if r := s.do("POST", "/Patient", ehrPatient("http://gp.example/mrn", "G1", "Copy"), bearer(gp)...); r.status != 403 {
		t.Fatalf("non-authoritative create: %d %s", r.status, truncate(r.body))
	}
	// independent: stored, never linked automatically.
	r := s.do("POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Alone"}]}`, bearer(gp)...)
	if r.status != 201 || r.header.Get("Link") != "" {
		t.Fatalf("independent Practitioner: %d, Link %q", r.status, r.header.Get("Link"))
	}
	// shared-registry: creators create, readers read and reference.
	if r := s.do("POST", "/Location", `{"resourceType":"Location","name":"Ward 1"}`, bearer(gp)...); r.status != 201 {
		t.Fatalf("shared-registry create by a source: %d %s", r.status, truncate(r.body))
	}
	if r := s.do("POST", "/Location", `{"resourceType":"Location","name":"Ward 2"}`, bearer(lab)...); r.status != 403 {
		t.Fatalf("shared-registry create by a reader: %d", r.status)
	}
	if r := s.do("GET", "/Location?name=ward", "", bearer(lab)...); r.status != 200 {
		t.Fatalf("shared-registry read by a reader: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.Rate = 1 })
	var last *response
	for i := 0; i < 5; i++ {
		if last = s.do("GET", "/Patient?_summary=count", ""); last.status == 429 {
			break
		}
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
}
