package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// startWithPatients starts a server that trains only on demand and loads
// a generated network's Patients into it, one create each (linked on
// write under the configured rules).
func startWithPatients(t *testing.T, persons int) *testServer {
	t.Helper()
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.AutoTrain = false })
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
		if r := s.do("POST", "/Patient", string(b)); r.status != 201 {
			return fmt.Errorf("create: %d %s", r.status, r.body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestModelsAdminAPI drives self-calibration through the admin API and
// $mdm-submit over real HTTP: training gives a candidate with its EM report
// per blocking rule, a dry run (admin API and $mdm-submit with model and
// dryRun) its counts without applying it, apply and rollback change the
// model in use and are audited; bad input gets the right status.
func TestModelsAdminAPI(t *testing.T) {
	s := startWithPatients(t, 150)
	status, out := s.admin("POST", "/models/train", `{"type":"Patient"}`)
	if status != 201 || out["state"] != registry.ModelCandidate {
		t.Fatalf("train: %d %v", status, out)
	}
	v := int(out["version"].(float64))
	rules, _ := out["report"].(map[string]any)["Training"].(map[string]any)["Rules"].([]any)
	if len(rules) < 3 {
		t.Fatalf("training report has %d blocking rules: %v", len(rules), out["report"])
	}
	status, out = s.admin("GET", "/models", "")
	if list, _ := out["models"].([]any); status != 200 || len(list) != 1 {
		t.Fatalf("models: %d %v", status, out)
	}
	status, out = s.admin("POST", fmt.Sprintf("/models/%d/dry-run", v), "")
	if rs, _ := out["rematch"].([]any); status != 200 || out["dryRun"] != true || len(rs) != 1 {
		t.Fatalf("dry run: %d %v", status, out)
	}
	submit := func(params string) *response {
		return s.do("POST", "/$mdm-submit", `{"resourceType":"Parameters","parameter":[{"name":"resourceType","valueString":"Patient"}`+params+`]}`)
	}
	r := submit(fmt.Sprintf(`,{"name":"model","valueInteger":%d},{"name":"dryRun","valueBoolean":true}`, v))
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"changed"`) || !strings.Contains(string(r.body), `"name":"records"`) {
		t.Fatalf("$mdm-submit dry run of model %d: %d %s", v, r.status, r.body)
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
	} {
		if status, out := s.admin(c.method, c.path, c.body); status != c.want {
			t.Errorf("%s %s %s: %d, want %d: %v", c.method, c.path, c.body, status, c.want, out)
		}
	}
	status, out = s.admin("POST", fmt.Sprintf("/models/%d/apply", v), "")
	if status != 200 || int(out["applied"].(float64)) != v {
		t.Fatalf("apply: %d %v", status, out)
	}
	status, out = s.admin("POST", "/models/rollback", "")
	if status != 200 || int(out["applied"].(float64)) == v {
		t.Fatalf("rollback: %d %v", status, out)
	}
	for _, kind := range []string{"model-apply", "model-rollback"} {
		if audit := s.do("GET", "/AuditEvent?subtype="+kind, "").json(t); audit["total"] != 1.0 {
			t.Errorf("%v AuditEvents of %s, want 1", audit["total"], kind)
		}
	}
	for _, path := range []string{"/admin/api/models", "/admin/api/models/1/apply"} {
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
