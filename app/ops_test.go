package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// startLogged starts a test server logging JSON into the returned buffer.
func startLogged(t *testing.T, edit func(*Config)) (*testServer, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := DefaultConfig()
	cfg.Addr, cfg.DB, cfg.Seed, cfg.Rate = "127.0.0.1:0", sqltest.DSN(t, "sqlite"), false, 0
	cfg.AdminToken, cfg.AdminPassword, cfg.LogFormat = testAdminToken, testAdminPassword, "json"
	if edit != nil {
		edit(&cfg)
	}
	log, err := cfg.logger(logs)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { inst.Close() })
	return &testServer{Instance: inst, t: t, base: inst.URL() + "/fhir"}, logs
}

// get fetches url with an optional bearer token.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// /metrics counts requests by route pattern, writes and links, shows the
// database pool, and answers only admin clients and the metrics token.
func TestMetrics(t *testing.T) {
	s, _ := startLogged(t, func(c *Config) { c.MetricsToken = "scrape-token-0123456789" })
	r := s.do("POST", "/Patient", ehrPatient("urn:oid:9.9", "m1", "Metric"))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	s.do("GET", "/Patient/"+id, "")
	reader := s.addClient(`{"name":"reader1","system":"https://reader.example.org","roles":["reader"]}`)
	url := s.URL() + "/metrics"
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {reader, 403}, {"wrong", 401}, {testAdminToken, 200}, {"scrape-token-0123456789", 200}} {
		if got, body := get(t, url, tc.token); got != tc.want {
			t.Errorf("/metrics with token %q: %d, want %d\n%.300s", tc.token, got, tc.want, body)
		}
	}
	_, body := get(t, url, "scrape-token-0123456789")
	for _, want := range []string{
		`idem_http_requests_total{method="POST",route="/fhir/:type",status="201"} 1`,
		`idem_http_requests_total{method="GET",route="/fhir/:type/:id",status="200"} 1`,
		`idem_http_request_duration_seconds_bucket{method="GET",route="/fhir/:type/:id",status="200",le="+Inf"} 1`,
		`idem_writes_total{interaction="create",type="Patient"} 1`,
		`idem_links{match_result="MATCH"} 1`,
		`go_sql_open_connections{db_name="read"}`,
		`idem_http_requests_total{method="GET",route="/metrics",status="401"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Errorf("/metrics holds a raw path with the id %s", id)
	}
}

// With IDEM_METRICS_ADDR, /metrics is served there, open, and not on the
// main address.
func TestMetricsOnOwnAddress(t *testing.T) {
	s, _ := startLogged(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	if got, _ := get(t, s.URL()+"/metrics", testAdminToken); got != 404 {
		t.Errorf("/metrics on the main address: %d", got)
	}
	got, body := get(t, "http://"+s.metrics.ln.Addr().String()+"/metrics", "")
	if got != 200 || !strings.Contains(body, "go_sql_open_connections") {
		t.Errorf("/metrics on its own address: %d %.200s", got, body)
	}
}

// Every request has an access log line at info level with the principal,
// route, status, duration and request id; the listening line is JSON too.
func TestAccessLog(t *testing.T) {
	s, logs := startLogged(t, nil)
	s.do("POST", "/Patient", ehrPatient("urn:oid:9.9", "a1", "Logged"))
	get(t, s.URL()+"/healthz", "")
	var listening, create, health bool
	for _, l := range logs.lines(t) {
		switch {
		case l["msg"] == "listening":
			listening = l["url"] == s.URL() && l["fhir"] == s.URL()+"/fhir"
		case l["msg"] == "request" && l["route"] == "/fhir/:type":
			create = l["level"] == "INFO" && l["principal"] == "client:admin" && l["method"] == "POST" &&
				l["status"] == float64(201) && l["id"] != "" && l["ms"] != nil
		case l["msg"] == "request" && l["route"] == "/healthz":
			health = l["principal"] == "-" && l["status"] == float64(200)
		}
	}
	if !listening || !create || !health {
		t.Fatalf("listening %v, create %v, healthz %v in the log:\n%s", listening, create, health, logs.buf.String())
	}
}

// On first start the server listens at once; /readyz says it is loading the
// demo (an OperationOutcome) and the UI shows a banner until it is done;
// the demo's source systems are clients owning their identifier domains.
func TestDemoLoadsInBackground(t *testing.T) {
	gate := make(chan struct{})
	small := seed.Config{Seed: 1, Persons: 40, Practitioners: 4, Locations: 2}
	s, logs := startLogged(t, func(c *Config) { c.Seed, c.demo, c.demoGate = true, &small, gate })
	resources, _ := countNetwork(small)
	if got, _ := get(t, s.URL()+"/healthz", ""); got != 200 {
		t.Fatalf("/healthz while loading: %d", got)
	}
	got, body := get(t, s.URL()+"/readyz", "")
	mustValidFHIR(t, []byte(body))
	if want := "loading demo data (0 of " + itoa(resources) + ")"; got != 503 || !strings.Contains(body, want) || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
		t.Fatalf("/readyz while loading: %d %s, want 503 %q", got, body, want)
	}
	if _, page := get(t, s.URL()+"/login", ""); !strings.Contains(page, `id="loading"`) || !strings.Contains(page, "loading demo data") {
		t.Fatalf("no loading banner on the sign-in page:\n%s", page)
	}
	close(gate)
	s.demo.wg.Wait()
	// the demo works its import job itself: the background worker, woken
	// by the same job, leaves it alone (they once raced for its lines)
	if out := logs.buf.String(); !strings.Contains(out, `"demo network loaded"`) || strings.Contains(out, "load failed") {
		t.Fatalf("demo load log:\n%s", out)
	}
	if d := s.demo.done.Load(); d != int64(resources) {
		t.Fatalf("demo progress ended at %d of %d", d, resources)
	}
	if got, body := get(t, s.URL()+"/readyz", ""); got != 200 {
		t.Fatalf("/readyz after loading: %d %s", got, body)
	}
	if _, page := get(t, s.URL()+"/login", ""); strings.Contains(page, `id="loading"`) {
		t.Fatal("loading banner after loading")
	}
	if n := total(t, s.do("GET", "/Patient?_summary=count", "")); n == 0 {
		t.Fatal("no demo Patients")
	}
	_, out := s.admin("GET", "/clients", "")
	list, _ := json.Marshal(out)
	for _, want := range []string{`"ehr.stmarys"`, `"urn:oid:2.16.840.1.113883.19.5.1"`, `"lis.northside-lab"`, `"http://lis.northside-lab.example.org/patient-number"`} {
		if !strings.Contains(string(list), want) {
			t.Errorf("demo clients lack %s: %s", want, list)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
