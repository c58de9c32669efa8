package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idem/registry/sqlstore/sqltest"
)

// pushEdit configures a test server for pushed data: held writes are
// tried every 20 ms.
func pushEdit(extra func(*Config)) func(*Config) {
	return func(c *Config) {
		c.HeldPoll = 20 * time.Millisecond
		if extra != nil {
			extra(c)
		}
	}
}

// A Patient whose generalPractitioner is a Practitioner the registry does
// not hold yet waits (202, a status URL, the reference named) and nothing
// is stored; when the source's Practitioner arrives it is released through
// the pipeline as its client, with the reference rewritten to the
// registry id. Bad requests on the status URL answer OperationOutcomes.
func TestHeldReferenceReleased(t *testing.T) {
	eachPushServer(t, pushEdit(nil), func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		other := s.addClient(`{"name":"other","system":"http://other.example/fhir","roles":["source"]}`)
		patient := `{"resourceType":"Patient","meta":{"source":"http://ehr.example/fhir/Patient/p1"},
			"identifier":[{"system":"http://ehr.example/mrn","value":"held-1"}],"name":[{"family":"Waiting","given":["Wanda"]}],
			"generalPractitioner":[{"reference":"Practitioner/77"}]}`
		r := s.do("POST", "/Patient", patient, bearer(ehr)...)
		if r.status != 202 || !strings.Contains(string(r.body), "Patient.generalPractitioner[0]") || !strings.Contains(string(r.body), "Practitioner/77") {
			t.Fatalf("held create: %d %s", r.status, r.body)
		}
		status := r.header.Get("Content-Location")
		path := strings.TrimPrefix(status, s.base)
		if !strings.HasPrefix(path, "/$held/") {
			t.Fatalf("status URL %q", status)
		}
		keepResponse(t, "held-202", r.body)
		if got := s.do("GET", "/Patient?identifier=http://ehr.example/mrn|held-1", ""); !strings.Contains(string(got.body), `"total":0`) {
			t.Fatalf("a held Patient was stored: %s", got.body)
		}
		if got := s.do("GET", path, "", bearer(ehr)...); got.status != 202 {
			t.Fatalf("status while waiting: %d %s", got.status, got.body)
		}
		// Another client does not see the submission; unknown ids are 404.
		for _, bad := range []struct {
			method, path, body, token string
			want                      int
		}{
			{"GET", path, "", other, 404},
			{"GET", "/$held/no-such-id", "", ehr, 404},
			{"POST", path + "/$accept", "", ehr, 403},
			{"POST", path + "/$reject", `{"resourceType":"Parameters"}`, testAdminToken, 400},
			{"POST", path + "/$reject", `{"resourceType":"Parameters","parameter":[{"name":"reason","valueBoolean":"x"}]}`, testAdminToken, 400},
			{"POST", path + "/$accept", `{"resourceType":"Patient","gender":"sometimes"}`, testAdminToken, 422},
			{"POST", path + "/$accept", `{"resourceType":"Patient",`, testAdminToken, 400},
		} {
			got := s.do(bad.method, bad.path, bad.body, bearer(bad.token)...)
			if got.status != bad.want || !strings.Contains(string(got.body), "OperationOutcome") {
				t.Errorf("%s %s: %d %s, want %d with an OperationOutcome", bad.method, bad.path, got.status, got.body, bad.want)
			}
		}
		pr := s.do("POST", "/Practitioner", `{"resourceType":"Practitioner","meta":{"source":"http://ehr.example/fhir/Practitioner/77"},"name":[{"family":"Gee","given":["Pat"]}]}`, bearer(ehr)...)
		if pr.status != 201 {
			t.Fatalf("practitioner: %d %s", pr.status, pr.body)
		}
		prID := pr.json(t)["id"].(string)
		var done *response
		waitFor(t, "the held Patient to be released", 30*time.Second, func() bool {
			done = s.do("GET", path, "", bearer(ehr)...)
			return done.status != 202
		})
		loc := done.header.Get("Location")
		if done.status != 200 || !strings.Contains(loc, "/Patient/") {
			t.Fatalf("released: %d %s (Location %q)", done.status, done.body, loc)
		}
		keepResponse(t, "held-accepted", done.body)
		got := s.do("GET", strings.TrimPrefix(loc[:strings.Index(loc, "/_history")], s.base), "")
		body := got.json(t)
		gp := body["generalPractitioner"].([]any)[0].(map[string]any)["reference"]
		if gp != "Practitioner/"+prID {
			t.Fatalf("generalPractitioner %v, want Practitioner/%s", gp, prID)
		}
		if src := body["meta"].(map[string]any)["source"]; src != "http://ehr.example/fhir/Patient/p1" {
			t.Errorf("meta.source %v: the release is the client's write", src)
		}
		// The hold and the release are audited.
		audit := s.do("GET", "/AuditEvent?_count=100", "")
		for _, want := range []string{`"code":"held"`, `"code":"held-accepted"`} {
			if !strings.Contains(compact(string(audit.body)), want) {
				t.Errorf("no AuditEvent with %s", want)
			}
		}
	})
}

// eachPushServer runs fn against a server configured with edit on every
// available database.
func eachPushServer(t *testing.T, edit func(*Config), fn func(t *testing.T, s *testServer)) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) { fn(t, startWith(t, sqltest.DSN(t, kind), edit)) })
	}
}

// keepResponse saves body as NAME.json in $IDEM_KEEP_RESPONSES, when set,
// for the shared fhir-check validators (node validate.js DIR/*.json); every
// response is already checked by Google's strict R4 parser in do.
func keepResponse(t *testing.T, name string, body []byte) {
	dir := os.Getenv("IDEM_KEEP_RESPONSES")
	if dir == "" {
		return
	}
	name = strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + name + ".json"
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
		t.Fatal(err)
	}
}
