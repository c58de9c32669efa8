package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// startWithPatients starts a server on SQLite that trains only on demand
// and loads a generated network's Patients into it, one create each
// (linked on write under the configured rules).
func startWithPatients(t *testing.T, persons int) *testServer {
	t.Helper()
	return startWithPatientsOn(t, sqltest.DSN(t, "sqlite"), persons)
}

// startWithPatientsOn is startWithPatients on the database dsn.
func startWithPatientsOn(t *testing.T, dsn string, persons int) *testServer {
	t.Helper()
	s := startWith(t, dsn, func(c *Config) { c.AutoTrain = false })
	loadPatients(t, s.do, persons)
	return s
}

// loadPatients creates a generated network's Patients, one create each.
func loadPatients(t *testing.T, do func(method, path, body string, headers ...string) *response, persons int) {
	t.Helper()
	sc := seed.DefaultConfig()
	sc.Seed, sc.Persons, sc.Practitioners, sc.Locations = 5, persons, 0, 0
	err := seed.Generate(sc, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		b, err := json.Marshal(r.Resource)
		if err != nil {
			return err
		}
		if r := do("POST", "/Patient", string(b)); r.status != 201 {
			return fmt.Errorf("create: %d %s", r.status, r.body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// modelJob sends a model job request to the admin API, which must answer
// 202 with the job's URL in Content-Location, and polls that URL (202
// with X-Progress while the job is queued or runs) until it answers
// otherwise: its final status and JSON.
func modelJob(t *testing.T, root, method, path, body string) (int, map[string]any) {
	t.Helper()
	resp, out := adminCall(t, method, root+"/admin/api"+path, body)
	loc := resp.Header.Get("Content-Location")
	if resp.StatusCode != 202 || !strings.HasPrefix(loc, root+"/admin/api/models/jobs/") || out["id"] == nil {
		t.Fatalf("%s %s: %d (Content-Location %q) %v, want 202 with the job's URL", method, path, resp.StatusCode, loc, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, out := adminCall(t, "GET", loc, "")
		if resp.StatusCode != 202 {
			return resp.StatusCode, out
		}
		if resp.Header.Get("X-Progress") == "" {
			t.Fatalf("job %s: 202 without X-Progress: %v", loc, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running: %s", loc, resp.Header.Get("X-Progress"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminCall sends one admin request with the admin token.
func adminCall(t *testing.T, method, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp, out
}

// jobResult runs a model job (modelJob) and returns its result, failing
// the test unless it is done.
func jobResult(t *testing.T, root, method, path, body string) map[string]any {
	t.Helper()
	status, out := modelJob(t, root, method, path, body)
	res, _ := out["result"].(map[string]any)
	if status != 200 || out["status"] != registry.JobDone || res == nil {
		t.Fatalf("model job: %d %v", status, out)
	}
	return res
}

// TestModelsAdminAPI drives self-calibration through the admin API and
// $mdm-submit over real HTTP, on SQLite and PostgreSQL: training, dry run,
// apply and rollback are each queued as a job (202 and the job's URL),
// which answers 202 with X-Progress while it runs and 200 with its result
// when done: a candidate with its EM report per blocking rule, a dry run's
// counts without applying it, apply and rollback change the model in use
// and are audited once each; bad input gets the right status at once.
func TestModelsAdminAPI(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) { testModelsAdminAPI(t, kind) })
	}
}

func testModelsAdminAPI(t *testing.T, kind string) {
	s := startWithPatientsOn(t, sqltest.DSN(t, kind), 150)
	root := s.Instance.URL()
	res := jobResult(t, root, "POST", "/models/train", `{"type":"Patient"}`)
	if res["state"] != registry.ModelCandidate {
		t.Fatalf("train: %v", res)
	}
	v := int(res["version"].(float64))
	status, out := s.admin("GET", fmt.Sprintf("/models/%d", v), "")
	rules, _ := out["report"].(map[string]any)["Training"].(map[string]any)["Rules"].([]any)
	if status != 200 || len(rules) < 3 {
		t.Fatalf("training report has %d blocking rules: %v", len(rules), out["report"])
	}
	status, out = s.admin("GET", "/models", "")
	if list, _ := out["models"].([]any); status != 200 || len(list) != 1 {
		t.Fatalf("models: %d %v", status, out)
	}
	res = jobResult(t, root, "POST", fmt.Sprintf("/models/%d/dry-run", v), "")
	if rs, _ := res["rematch"].([]any); res["dryRun"] != true || len(rs) != 1 {
		t.Fatalf("dry run: %v", res)
	}
	dryChanged := res["rematch"].([]any)[0].(map[string]any)["Changed"]
	if s.do("GET", "/AuditEvent?subtype=model-apply", "").json(t)["total"] != 0.0 {
		t.Fatal("a dry run was audited as an apply")
	}
	submit := func(params string) *response {
		return s.do("POST", "/$mdm-submit", `{"resourceType":"Parameters","parameter":[{"name":"resourceType","valueString":"Patient"}`+params+`]}`)
	}
	r := submit(fmt.Sprintf(`,{"name":"model","valueInteger":%d},{"name":"dryRun","valueBoolean":true}`, v))
	loc := r.header.Get("Content-Location")
	if r.status != 202 || !strings.Contains(loc, "/$mdm-submit-status/") {
		t.Fatalf("$mdm-submit dry run of model %d: %d %s", v, r.status, r.body)
	}
	waitFor(t, "the $mdm-submit dry run", 2*time.Minute, func() bool {
		r = s.do("GET", loc[strings.Index(loc, "/$mdm-submit-status/"):], "")
		if r.status == 202 && r.header.Get("X-Progress") == "" {
			t.Fatalf("$mdm-submit-status: 202 without X-Progress")
		}
		return r.status != 202
	})
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"changed"`) || !strings.Contains(string(r.body), `"name":"records"`) {
		t.Fatalf("$mdm-submit dry run of model %d: %d %s", v, r.status, r.body)
	}
	if !strings.Contains(string(r.body), fmt.Sprintf(`"name":"changed","valueInteger":%v`, dryChanged)) {
		t.Errorf("$mdm-submit's dry run disagrees with the admin API's (%v changed): %s", dryChanged, r.body)
	}
	for _, c := range []struct {
		name, params string
		want         int
	}{
		{"model without dryRun", fmt.Sprintf(`,{"name":"model","valueInteger":%d}`, v), 400},
		{"model not a number", `,{"name":"model","valueString":"x"},{"name":"dryRun","valueBoolean":true}`, 400},
		{"model unknown", `,{"name":"model","valueInteger":999},{"name":"dryRun","valueBoolean":true}`, 404},
		{"model with criteria", fmt.Sprintf(`,{"name":"model","valueInteger":%d},{"name":"dryRun","valueBoolean":true},{"name":"criteria","valueString":"family=x"}`, v), 400},
	} {
		if r := submit(c.params); r.status != c.want || !strings.Contains(string(r.body), "OperationOutcome") {
			t.Errorf("$mdm-submit %s: %d, want %d: %s", c.name, r.status, c.want, r.body)
		}
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/models/train", `{"type":"Observation"}`, 400},
		{"POST", "/models/train", `not json`, 400},
		{"POST", "/models/999/dry-run", "", 404},
		{"POST", "/models/abc/apply", "", 400},
		{"POST", "/models/rollback", "", 409}, // nothing applied yet
		{"GET", "/models/999", "", 404},
		{"GET", "/models/jobs/nosuchjob", "", 404},
	} {
		if status, out := s.admin(c.method, c.path, c.body); status != c.want || out["resourceType"] != "OperationOutcome" {
			t.Errorf("%s %s %s: %d, want %d: %v", c.method, c.path, c.body, status, c.want, out)
		}
	}
	// A job that fails (no Location to train on) answers an
	// OperationOutcome saying why.
	if status, out := modelJob(t, root, "POST", "/models/train", `{"type":"Location"}`); status != 422 || out["resourceType"] != "OperationOutcome" ||
		!strings.Contains(fmt.Sprint(out["issue"]), "failed") {
		t.Errorf("a failed training job: %d %v", status, out)
	}
	res = jobResult(t, root, "POST", fmt.Sprintf("/models/%d/apply", v), "")
	if int(res["version"].(float64)) != v || res["state"] != registry.ModelApplied {
		t.Fatalf("apply: %v", res)
	}
	if got := res["rematch"].([]any)[0].(map[string]any)["Changed"]; got != dryChanged {
		t.Errorf("apply changed %v records, the dry run said %v", got, dryChanged)
	}
	res = jobResult(t, root, "POST", "/models/rollback", "")
	if int(res["version"].(float64)) == v {
		t.Fatalf("rollback: %v", res)
	}
	for _, kind := range []string{"model-apply", "model-rollback"} {
		if audit := s.do("GET", "/AuditEvent?subtype="+kind, "").json(t); audit["total"] != 1.0 {
			t.Errorf("%v AuditEvents of %s, want 1", audit["total"], kind)
		}
	}
	for _, path := range []string{"/admin/api/models", "/admin/api/models/1/apply", "/admin/api/models/train"} {
		resp, err := http.Post(s.Instance.URL()+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 405 {
			t.Errorf("POST %s without a token: %d", path, resp.StatusCode)
		}
	}
}
