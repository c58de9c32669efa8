package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"idem/policy"
)

// bulkReq sends one request with a token and returns status, headers, body.
func bulkReq(t *testing.T, method, url, token, ctype string, body io.Reader, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// waitJob polls a status URL until it answers 200 (or fails the test).
func waitJob(t *testing.T, status, token string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, h, body := bulkReq(t, "GET", status, token, "", nil)
		switch code {
		case 202:
			if h.Get("X-Progress") == "" {
				t.Fatalf("202 without X-Progress")
			}
			continue
		case 200:
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("status is not JSON: %s", body)
			}
			return m
		default:
			t.Fatalf("status %s: %d %s", status, code, body)
		}
	}
	t.Fatal("job did not finish")
	return nil
}

func addSource(t *testing.T, s *testServer, name, system, domain string) string {
	t.Helper()
	tok, err := s.authz.AddClient(context.Background(), policy.Client{Name: name, System: system, Roles: []string{"source"}, Domains: []string{domain}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

const importBody = `{"resourceType":"Patient","id":"a1","identifier":[{"system":"http://ehr.example/mrn","value":"1"}],"name":[{"family":"Brontë","given":["Charlotte"]}],"birthDate":"1816-04-21"}
{"resourceType":"Patient","id":"a2","identifier":[{"system":"http://ehr.example/mrn","value":"2"}],"name":[{"family":"Brontë","given":["Emily"]}],"birthDate":"1818-07-30"}
{"resourceType":"Patient","id":"a3","name":[{"family":"Brontë","given":["Anne"]}],"birthDate":"1820-01-17","colour":"blue"}
not json at all

{"resourceType":"Person","name":[{"family":"X"}]}
{"resourceType":"Patient","id":"a4","identifier":[{"system":"http://other.example/mrn","value":"9"}],"name":[{"family":"Gaskell","given":["Elizabeth"]}]}
{"resourceType":"Practitioner","id":"d1","name":[{"family":"Bell","given":["Currer"]}]}
`

// An import over HTTP: 202 and a status URL; malformed lines, a type that
// cannot be imported and a record with another client's identifier domain
// are reported by line number; the rest is written, linked and audited as
// the client. The same lines again update, never duplicate.
func TestImportHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
		addSource(t, s, "other", "http://other.example/fhir", "http://other.example/mrn")
		run := func() map[string]any {
			code, h, body := bulkReq(t, "POST", s.base+"/$import", tok, "application/fhir+ndjson", strings.NewReader(importBody))
			if code != 202 || h.Get("Content-Location") == "" {
				t.Fatalf("$import: %d %s", code, body)
			}
			mustValidFHIR(t, body)
			return waitJob(t, h.Get("Content-Location"), tok)
		}
		first := run()
		sum := first["summary"].(map[string]any)
		if sum["created"].(float64) != 3 || sum["rejected"].(float64) != 4 || sum["updated"].(float64) != 0 {
			t.Fatalf("first import: %v", sum)
		}
		errURL := first["error"].([]any)[0].(map[string]any)["url"].(string)
		_, _, errs := bulkReq(t, "GET", errURL, tok, "", nil)
		for _, want := range []string{"line 3:", "line 4:", "line 6:", "line 7:"} {
			if !bytes.Contains(errs, []byte(want)) {
				t.Errorf("error file does not name %q:\n%s", want, errs)
			}
		}
		for _, line := range bytes.Split(bytes.TrimSpace(errs), []byte("\n")) {
			mustValidFHIR(t, line)
		}
		second := run()["summary"].(map[string]any)
		if second["created"].(float64) != 0 || second["updated"].(float64) != 3 {
			t.Fatalf("second import of the same lines: %v", second)
		}
		r := s.do("GET", "/Patient?_source=http://ehr.example/fhir/Patient/a1&_summary=count", "")
		if n := r.json(t)["total"].(float64); n != 1 {
			t.Fatalf("Patient a1 stored %v times", n)
		}
		r = s.do("GET", "/Patient?family=bronte&_summary=count", "")
		if n := r.json(t)["total"].(float64); n != 2 {
			t.Fatalf("%v Brontës", n)
		}
		_, _, csv := bulkReq(t, "GET", first["output"].([]any)[1].(map[string]any)["url"].(string), tok, "", nil)
		if !bytes.HasPrefix(csv, []byte("line,outcome,")) || bytes.Count(csv, []byte("\n")) != 8 {
			t.Errorf("CSV report:\n%s", csv)
		}
		// another client sees no job of this one
		if code, _, _ := bulkReq(t, "GET", strings.Replace(errURL, "/errors.ndjson", "", 1), addSource(t, s, "third", "http://3.example", "http://3.example/id"), "", nil); code != 404 {
			t.Errorf("another client's status: %d", code)
		}
	})
}

// Refusals before anything is spooled: no token (401), a reader (403), a
// body over the limit (413), a Parameters manifest (400), strict with a
// malformed line (400): every one an OperationOutcome.
func TestImportRefused(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
		reader, err := s.authz.AddClient(context.Background(), policy.Client{Name: "r", System: "http://r.example", Roles: []string{"reader"}})
		if err != nil {
			t.Fatal(err)
		}
		big := strings.Repeat(`{"resourceType":"Patient","name":[{"family":"Big"}]}`+"\n", (1<<20)/50+10)
		for _, c := range []struct {
			name, token, ctype, body, query string
			want                            int
		}{
			{"no token", "", "application/fhir+ndjson", importBody, "", 401},
			{"reader", reader, "application/fhir+ndjson", importBody, "", 403},
			{"too large", tok, "application/fhir+ndjson", big, "", 413},
			{"manifest", tok, "application/fhir+json", `{"resourceType":"Parameters"}`, "", 400},
			{"xml", tok, "application/fhir+xml", `<Patient/>`, "", 415},
			{"strict", tok, "application/fhir+ndjson", importBody, "?strict=true", 400},
			{"empty", tok, "application/fhir+ndjson", "\n\n", "", 400},
		} {
			code, _, body := bulkReq(t, "POST", s.base+"/$import"+c.query, c.token, c.ctype, strings.NewReader(c.body))
			if code != c.want || !bytes.Contains(body, []byte("OperationOutcome")) {
				t.Errorf("%s: %d %s", c.name, code, truncate(body))
			}
		}
		// chunked (no Content-Length): the limit holds while streaming
		pr, pw := io.Pipe()
		go func() { pw.Write([]byte(big)); pw.Close() }()
		if code, _, body := bulkReq(t, "POST", s.base+"/$import", tok, "application/fhir+ndjson", pr); code != 413 {
			t.Errorf("chunked over the limit: %d %s", code, truncate(body))
		}
		if jobs, _ := s.store.Jobs(context.Background(), "", 10); len(jobs) != 0 {
			t.Errorf("refused imports left %d jobs", len(jobs))
		}
	})
}

// $export: kick-off, status, manifest, files with the same token; _since
// reports deletions; DELETE removes the job.
func TestExportHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
		code, h, body := bulkReq(t, "POST", s.base+"/$import", tok, "application/fhir+ndjson", strings.NewReader(importBody))
		if code != 202 {
			t.Fatalf("%d %s", code, body)
		}
		waitJob(t, h.Get("Content-Location"), tok)
		if code, _, _ := bulkReq(t, "GET", s.base+"/$export", testAdminToken, "", nil); code != 400 {
			t.Errorf("without Prefer: respond-async: %d", code)
		}
		if code, _, _ := bulkReq(t, "GET", s.base+"/$export?_type=Patient,Spaceship", testAdminToken, "", nil, "Prefer", "respond-async"); code != 400 {
			t.Errorf("unknown _type: %d", code)
		}
		if code, _, _ := bulkReq(t, "GET", s.base+"/$export?_type=AuditEvent", tok, "", nil, "Prefer", "respond-async"); code != 403 {
			t.Errorf("AuditEvent to a non-admin: %d", code)
		}
		since := time.Now().UTC().Format(time.RFC3339Nano)
		time.Sleep(5 * time.Millisecond)
		del := s.do("GET", "/Patient?_source=http://ehr.example/fhir/Patient/a2", "").json(t)
		id := del["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
		if r := s.do("DELETE", "/Patient/"+id, ""); r.status != 200 {
			t.Fatalf("delete: %d", r.status)
		}
		manifest := export(t, s.base+"/$export", testAdminToken)
		counts := map[string]float64{}
		for _, o := range manifest["output"].([]any) {
			o := o.(map[string]any)
			counts[o["type"].(string)] = o["count"].(float64)
			lines := download(t, o["url"].(string), testAdminToken)
			if len(lines) != int(o["count"].(float64)) {
				t.Errorf("%s: %d lines, manifest says %v", o["type"], len(lines), o["count"])
			}
			if o["type"] != "Crosswalk" {
				for _, l := range lines {
					mustValidFHIR(t, l)
				}
			}
		}
		if counts["Patient"] != 2 || counts["Practitioner"] != 1 || counts["Person"] < 2 || counts["Crosswalk"] != 3 {
			t.Errorf("export counts: %v", counts)
		}
		if code, _, _ := bulkReq(t, "GET", manifest["output"].([]any)[0].(map[string]any)["url"].(string), tok, "", nil); code != 404 {
			t.Errorf("another client downloads the admin's file: %d", code)
		}
		inc := export(t, s.base+"/$export?_type=Patient&_since="+since, testAdminToken)
		deleted := inc["deleted"].([]any)
		if len(deleted) != 1 || len(inc["output"].([]any)) != 1 {
			t.Fatalf("_since export: %v", inc)
		}
		lines := download(t, deleted[0].(map[string]any)["url"].(string), testAdminToken)
		if len(lines) != 1 || !bytes.Contains(lines[0], []byte(`"url":"Patient/`+id+`"`)) {
			t.Errorf("deleted file: %s", bytes.Join(lines, nil))
		}
		pat := export(t, s.base+"/Patient/$export", tok)
		for _, o := range pat["output"].([]any) {
			if typ := o.(map[string]any)["type"]; typ != "Patient" && typ != "Person" && typ != "Crosswalk" {
				t.Errorf("Patient/$export holds %v", typ)
			}
		}
		status := strings.TrimSuffix(manifest["output"].([]any)[0].(map[string]any)["url"].(string), "/Patient.ndjson")
		status = strings.Replace(status, "$export-file", "$export-status", 1)
		if code, _, _ := bulkReq(t, "DELETE", status, testAdminToken, "", nil); code != 202 {
			t.Errorf("DELETE: %d", code)
		}
		if code, _, _ := bulkReq(t, "GET", status, testAdminToken, "", nil); code != 404 {
			t.Errorf("status after DELETE: %d", code)
		}
	})
}

func export(t *testing.T, url, token string) map[string]any {
	t.Helper()
	code, h, body := bulkReq(t, "GET", url, token, "", nil, "Prefer", "respond-async")
	if code != 202 || h.Get("Content-Location") == "" {
		t.Fatalf("kick-off %s: %d %s", url, code, body)
	}
	m := waitJob(t, h.Get("Content-Location"), token)
	if m["requiresAccessToken"] != true || m["transactionTime"] == nil {
		t.Fatalf("manifest: %v", m)
	}
	return m
}

func download(t *testing.T, url, token string) [][]byte {
	t.Helper()
	code, h, body := bulkReq(t, "GET", url, token, "", nil)
	if code != 200 || h.Get("Content-Type") != "application/fhir+ndjson" {
		t.Fatalf("download %s: %d %s", url, code, body)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

var _ = fmt.Sprint

// The job page shows an import's progress and match report per source,
// with the report downloads (admins only).
func TestImportJobPage(t *testing.T) {
	s := startServer(t, "sqlite")
	tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
	code, h, body := bulkReq(t, "POST", s.base+"/$import", tok, "application/fhir+ndjson", strings.NewReader(importBody))
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	waitJob(t, h.Get("Content-Location"), tok)
	id := h.Get("Content-Location")[strings.LastIndex(h.Get("Content-Location"), "/")+1:]
	c, _ := s.uiSession(t)
	list := s.send(c, attack{name: "jobs", method: "GET", url: "/admin/jobs"})
	page := s.send(c, attack{name: "job", method: "GET", url: "/admin/jobs/" + id})
	csv := s.send(c, attack{name: "csv", method: "GET", url: "/admin/jobs/" + id + "/report.csv"})
	for _, want := range []string{`id="created">4<`, `id="rejected">3<`, `http://ehr.example/fhir`, `report.csv`, `id="status">done<`} {
		if !bytes.Contains(page.body, []byte(want)) {
			t.Errorf("job page lacks %q:\n%s", want, page.body)
		}
	}
	if bytes.Contains(page.body, []byte(`http-equiv="refresh"`)) {
		t.Error("a finished job's page still refreshes itself")
	}
	if list.status != 200 || !bytes.Contains(list.body, []byte(id)) || csv.status != 200 || !bytes.HasPrefix(csv.body, []byte("line,outcome")) {
		t.Errorf("jobs list %d, report %d", list.status, csv.status)
	}
}

// TestBulkCapabilities: the CapabilityStatement declares the Bulk Data IG
// and its $export at system and Patient level, and idem's $import, so a
// Bulk Data client finds them without trying.
func TestBulkCapabilities(t *testing.T) {
	s := startServer(t, "sqlite")
	code, _, body := bulkReq(t, "GET", s.base+"/metadata", "", "", nil)
	if code != 200 {
		t.Fatalf("metadata: %d %s", code, body)
	}
	mustValidFHIR(t, body)
	var cs struct {
		Instantiates []string `json:"instantiates"`
		Rest         []struct {
			Operation []struct{ Name, Definition string } `json:"operation"`
			Resource  []struct {
				Type      string                              `json:"type"`
				Operation []struct{ Name, Definition string } `json:"operation"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(body, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs.Instantiates) != 1 || cs.Instantiates[0] != "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" {
		t.Errorf("instantiates %v", cs.Instantiates)
	}
	system := map[string]string{}
	for _, op := range cs.Rest[0].Operation {
		system[op.Name] = op.Definition
	}
	if system["export"] != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" || system["import"] == "" {
		t.Errorf("system operations %v", system)
	}
	for _, r := range cs.Rest[0].Resource {
		var defs []string
		for _, op := range r.Operation {
			if op.Name == "export" {
				defs = append(defs, op.Definition)
			}
		}
		want := 0
		if r.Type == "Patient" {
			want = 1
			if len(defs) == 1 && defs[0] != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export" {
				t.Errorf("Patient/$export definition %s", defs[0])
			}
		}
		if len(defs) != want {
			t.Errorf("%s: %d export operations, want %d", r.Type, len(defs), want)
		}
	}
}
