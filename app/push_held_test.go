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

// The policy's intake per client and type: gp's Patients wait for a
// steward (202), lab's are refused (403 naming the rule, nothing stored);
// a steward accepts one with an edit (stored as gp's record, the submitter
// sees 200 and its Location) and rejects another (the submitter sees the
// reason); every outcome is audited.
func TestReviewAcceptReject(t *testing.T) {
	edit := pushEdit(func(c *Config) { c.Unsolicited = "gp:Patient=review,lab:*=refuse" })
	eachPushServer(t, edit, func(t *testing.T, s *testServer) {
		gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
		lab := s.addClient(`{"name":"lab","system":"http://lab.example/fhir","roles":["source"]}`)
		pat := func(v, family string) string {
			return `{"resourceType":"Patient","identifier":[{"system":"http://gp.example/mrn","value":"` + v + `"}],"name":[{"family":"` + family + `"}],"birthDate":"1970-05-06"}`
		}
		refused := s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Labby"}]}`, bearer(lab)...)
		if refused.status != 403 || !strings.Contains(string(refused.body), "lab:*=refuse") {
			t.Fatalf("refused intake: %d %s", refused.status, refused.body)
		}
		first := s.do("POST", "/Patient", pat("r1", "Revue"), bearer(gp)...)
		second := s.do("POST", "/Patient", pat("r2", "Rejecta"), bearer(gp)...)
		for _, r := range []*response{first, second} {
			if r.status != 202 || !strings.Contains(string(r.body), "gp:Patient=review") {
				t.Fatalf("review intake: %d %s", r.status, r.body)
			}
		}
		if got := s.do("GET", "/Patient?identifier=http://gp.example/mrn|", ""); !strings.Contains(string(got.body), `"total":0`) {
			t.Fatalf("a Patient waiting for review was stored: %s", got.body)
		}
		queue := s.do("GET", "/$held?kind=review", "")
		if !strings.Contains(string(queue.body), `"total":2`) {
			t.Fatalf("review queue: %s", queue.body)
		}
		keepResponse(t, "queue", queue.body)
		if got := s.do("GET", "/$held", "", bearer(gp)...); got.status != 403 {
			t.Errorf("a client listed the queue: %d", got.status)
		}
		path1 := strings.TrimPrefix(first.header.Get("Content-Location"), s.base)
		path2 := strings.TrimPrefix(second.header.Get("Content-Location"), s.base)
		// The steward corrects the family name and accepts.
		acc := s.do("POST", path1+"/$accept", pat("r1", "Review"))
		if acc.status != 200 || !strings.Contains(acc.header.Get("Location"), "/Patient/") {
			t.Fatalf("accept: %d %s", acc.status, acc.body)
		}
		if again := s.do("POST", path1+"/$accept", ""); again.status != 409 {
			t.Errorf("accepted twice: %d %s", again.status, again.body)
		}
		rej := s.do("POST", path2+"/$reject", `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"not one of our patients"}]}`)
		if rej.status != 200 {
			t.Fatalf("reject: %d %s", rej.status, rej.body)
		}
		st1 := s.do("GET", path1, "", bearer(gp)...)
		if st1.status != 200 || st1.header.Get("Location") == "" {
			t.Fatalf("accepted status: %d %s", st1.status, st1.body)
		}
		stored := s.do("GET", "/Patient?identifier=http://gp.example/mrn|r1", "")
		if !strings.Contains(string(stored.body), `"total":1`) || !strings.Contains(string(stored.body), `"family":"Review"`) || !strings.Contains(string(stored.body), `"source":"http://gp.example/fhir"`) {
			t.Fatalf("accepted Patient: %s", stored.body)
		}
		st2 := s.do("GET", path2, "", bearer(gp)...)
		if st2.status != 422 || !strings.Contains(string(st2.body), "not one of our patients") {
			t.Fatalf("rejected status: %d %s", st2.status, st2.body)
		}
		keepResponse(t, "rejected", st2.body)
		if got := s.do("GET", "/Patient?identifier=http://gp.example/mrn|r2", ""); !strings.Contains(string(got.body), `"total":0`) {
			t.Fatalf("a rejected Patient was stored: %s", got.body)
		}
		audit := compact(string(s.do("GET", "/AuditEvent?_count=200", "").body))
		for _, want := range []string{`"code":"held"`, `"code":"held-accepted"`, `"code":"held-rejected"`, `not one of our patients`} {
			if !strings.Contains(audit, want) {
				t.Errorf("no AuditEvent with %s", want)
			}
		}
	})
}
