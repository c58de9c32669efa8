package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// testServer is a running idem on a fresh database, reached over real HTTP.
type testServer struct {
	*Instance
	t    *testing.T
	base string
}

// The admin client's token and the admin user's password of test servers.
const (
	testAdminToken    = "idem_test-admin-token-0123456789abcdef"
	testAdminPassword = "test admin password"
	// testSecretKey seals stored credentials on PostgreSQL, where several
	// instances share the database and a key must be configured; SQLite
	// test servers generate their own key file.
	testSecretKey = "d/5VAh7dCy+1LViPpZ3DkuxRAAH3CbCyufn7Zx13L+8="
)

// secretKeyEnv is the IDEM_SECRET_KEY setting a child process on dsn needs.
func secretKeyEnv(dsn string) []string {
	if sqlstore.IsPostgres(dsn) {
		return []string{"IDEM_SECRET_KEY=" + testSecretKey}
	}
	return nil
}

func startServer(t *testing.T, kind string) *testServer {
	t.Helper()
	return startOn(t, sqltest.DSN(t, kind))
}

func startOn(t *testing.T, dsn string) *testServer {
	t.Helper()
	return startWith(t, dsn, nil)
}

// startWith starts a test server on dsn; edit, when not nil, changes the
// configuration first.
func startWith(t *testing.T, dsn string, edit func(*Config)) *testServer {
	t.Helper()
	inst, err := Start(context.Background(), testConfig(dsn, edit), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { inst.Close() })
	return &testServer{Instance: inst, t: t, base: inst.URL() + "/fhir"}
}

// testConfig is the configuration of a test server on dsn, changed by edit.
func testConfig(dsn string, edit func(*Config)) Config {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = dsn
	cfg.MaxBody = 1 << 20
	cfg.Seed = false
	cfg.AdminToken = testAdminToken
	cfg.AdminPassword = testAdminPassword
	cfg.Rate = 0 // tests fire thousands of requests
	if sqlstore.IsPostgres(dsn) {
		cfg.SecretKey = testSecretKey
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// eachServer runs fn against a server on every available database.
func eachServer(t *testing.T, fn func(t *testing.T, s *testServer)) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) { fn(t, startServer(t, kind)) })
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.body)
	}
	return m
}

// do sends one request and checks that any JSON answer is valid FHIR R4.
func (s *testServer) do(method, path string, body string, headers ...string) *response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i] == "Authorization" && headers[i+1] == "" {
			req.Header.Del("Authorization")
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if len(data) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		mustValidFHIR(s.t, data)
	}
	return r
}

var (
	validatorOnce sync.Once
	validator     *jsonformat.Unmarshaller
	validatorMu   sync.Mutex
)

// mustValidFHIR checks body with Google's strict FHIR R4 parser, an
// implementation independent of ours.
func mustValidFHIR(t testing.TB, body []byte) {
	t.Helper()
	validatorOnce.Do(func() {
		var err error
		validator, err = jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			panic(err)
		}
	})
	validatorMu.Lock()
	_, err := validator.UnmarshalR4(body)
	validatorMu.Unlock()
	if err != nil {
		t.Errorf("response is not valid FHIR R4: %v\n%s", err, truncate(body))
	}
}

func truncate(b []byte) []byte {
	if len(b) > 2000 {
		return append(b[:2000:2000], []byte("...")...)
	}
	return b
}

func compact(js string) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(js)); err != nil {
		panic(err)
	}
	return buf.String()
}

// The validator must actually reject invalid FHIR, or every check above is void.
func TestValidatorRejectsInvalid(t *testing.T) {
	v, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"resourceType":"Patient","gender":"xyz"}`,
		`{"resourceType":"Patient","birthDate":"1990-02-30"}`,
		`{"resourceType":"Patient","colour":"blue"}`,
	} {
		if _, err := v.UnmarshalR4([]byte(bad)); err == nil {
			t.Errorf("validator accepted %s", bad)
		}
	}
}
