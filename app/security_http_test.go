package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"idem/registry/sqlstore/sqltest"
)

// Attacks through real HTTP, as tables: (method, URL, body, identity) →
// status, and nothing that must not be seen or stored. Each scenario of
// issue 10 (findings 1, 4, 6, 7, 9, 10) failed before its fix.

// attack is one request an attacker sends.
type attack struct {
	name        string
	as          string // identity: a token, "" for none
	method, url string // url relative to the server root
	ctype, body string
	header      []string // extra header pairs; "Host" sets the Host header
	want        int
	wantAlso    int    // a second acceptable status (0: none)
	never       string // text that must appear in neither body nor headers
}

// send sends a request to the server root and returns the response,
// without following redirects.
func (s *testServer) send(client *http.Client, a attack) *response {
	s.t.Helper()
	var body io.Reader
	if a.body != "" {
		body = strings.NewReader(a.body)
	}
	req, err := http.NewRequest(a.method, s.URL()+a.url, body)
	if err != nil {
		s.t.Fatalf("%s: %v", a.name, err)
	}
	if a.ctype != "" {
		req.Header.Set("Content-Type", a.ctype)
	}
	if a.as != "" {
		req.Header.Set("Authorization", "Bearer "+a.as)
	}
	for i := 0; i+1 < len(a.header); i += 2 {
		if a.header[i] == "Host" {
			req.Host = a.header[i+1]
		} else {
			req.Header.Set(a.header[i], a.header[i+1])
		}
	}
	if client == nil {
		client = noRedirects(nil)
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s: %v", a.name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// run sends each attack and checks its status and what it must not show.
func (s *testServer) run(t *testing.T, client *http.Client, attacks []attack) {
	t.Helper()
	for _, a := range attacks {
		r := s.send(client, a)
		if r.status != a.want && (a.wantAlso == 0 || r.status != a.wantAlso) {
			t.Errorf("%s: %s %s → %d %s, want %d", a.name, a.method, a.url, r.status, truncate(r.body), a.want)
		}
		if r.status >= 500 {
			t.Errorf("%s: server error %d", a.name, r.status)
		}
		if a.never == "" {
			continue
		}
		var hdr bytes.Buffer
		_ = r.header.Write(&hdr)
		if bytes.Contains(r.body, []byte(a.never)) || strings.Contains(hdr.String(), a.never) {
			t.Errorf("%s: the response shows %q:\n%s\n%s", a.name, a.never, hdr.String(), truncate(r.body))
		}
	}
}

const auditJSON = `"resourceType":"AuditEvent"`

// Finding 1: the audit trail through _include/_revinclude, however the
// request spells it. Authorisation decides on the decoded, parsed search.
func TestSecurityIncludes(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ehr := s.addClient(`{"name":"ehr-main","system":"http://ehr.example/fhir","roles":["source"],"domains":["http://ehr.example/mrn"]}`)
		lab := s.addClient(`{"name":"lab-east","system":"http://lab.example/fhir","roles":["reader"]}`)
		if r := s.do("POST", "/Patient", ehrPatient("http://ehr.example/mrn", "E1", "Audited"), bearer(ehr)...); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		// A Location whose partOf names an AuditEvent: _include must not follow it.
		audit := s.do("GET", "/AuditEvent?_count=1", "").json(t)
		auditID := firstID(t, audit)
		loc := `{"resourceType":"Location","name":"Ward","partOf":{"reference":"AuditEvent/` + auditID + `"}}`
		// (idem stores it: the reference's target type is not checked.)
		s.send(nil, attack{name: "Location", as: ehr, method: "POST", url: "/fhir/Location", ctype: "application/fhir+json", body: loc})
		batch := func(u string) string {
			return `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"` + u + `"}}]}`
		}
		fj, form := "application/fhir+json", formType
		s.run(t, nil, []attack{
			{name: "percent-encoded type", as: lab, method: "GET", url: "/fhir/Patient?_count=1&_revinclude=Audit%45vent:entity", want: 403, never: auditJSON},
			{name: "encoded colon", as: lab, method: "GET", url: "/fhir/Patient?_revinclude=AuditEvent%3Aentity", want: 403, never: auditJSON},
			{name: "encoded name", as: lab, method: "GET", url: "/fhir/Patient?%5Frevinclude=AuditEvent:entity", want: 403, never: auditJSON},
			{name: "double encoding", as: lab, method: "GET", url: "/fhir/Patient?_revinclude=Audit%2545vent:entity", want: 400, never: auditJSON},
			{name: "plus for space", as: lab, method: "GET", url: "/fhir/Patient?_revinclude=AuditEvent:entity+", want: 400, wantAlso: 403, never: auditJSON},
			{name: "upper case name is no include", as: lab, method: "GET", url: "/fhir/Patient?_REVINCLUDE=AuditEvent:entity", want: 200, never: auditJSON},
			{name: ":iterate", as: lab, method: "GET", url: "/fhir/Patient?_revinclude:iterate=AuditEvent:entity", want: 403, never: auditJSON},
			{name: "other audit parameter", as: lab, method: "GET", url: "/fhir/Patient?_revinclude=AuditEvent:patient", want: 403, never: auditJSON},
			{name: "_include naming AuditEvent", as: lab, method: "GET", url: "/fhir/Patient?_include=AuditEvent:entity", want: 403, never: auditJSON},
			{name: "wildcard", as: lab, method: "GET", url: "/fhir/Patient?_include=*", want: 400, never: auditJSON},
			{name: "POST _search form", as: lab, method: "POST", url: "/fhir/Patient/_search", ctype: form, body: "_count=1&_revinclude=Audit%45vent:entity", want: 403, never: auditJSON},
			{name: "POST _search duplicate", as: lab, method: "POST", url: "/fhir/Patient/_search", ctype: form, body: "_revinclude=Person:patient&_revinclude=Audit%45vent%3Aentity", want: 403, never: auditJSON},
			{name: "POST _search query and form", as: lab, method: "POST", url: "/fhir/Patient/_search?_revinclude=Person:patient", ctype: form, body: "%5Frevinclude=AuditEvent:entity", want: 403, never: auditJSON},
			{name: "reference into the audit trail", as: lab, method: "GET", url: "/fhir/Location?_include=Location:partof", want: 200, never: auditJSON},
			{name: "Bundle GET of the audit trail", as: lab, method: "POST", url: "/fhir", ctype: fj, body: batch("AuditEvent?_count=1"), want: 403, never: auditJSON},
			{name: "Bundle GET with _revinclude", as: lab, method: "POST", url: "/fhir", ctype: fj, body: batch("Patient?_revinclude=Audit%45vent:entity"), want: 403, never: auditJSON},
			{name: "Bundle GET of an AuditEvent", as: lab, method: "POST", url: "/fhir", ctype: fj, body: batch("AuditEvent/" + auditID), want: 403, never: auditJSON},
			{name: "readers still include Persons", as: lab, method: "GET", url: "/fhir/Patient?_revinclude=Person:patient", want: 200},
			{name: "admins read the trail", as: testAdminToken, method: "GET", url: "/fhir/Patient?_revinclude=Audit%45vent:entity", want: 200},
		})
	})
}

// firstID returns the id of a searchset's first resource.
func firstID(t *testing.T, bundle map[string]any) string {
	t.Helper()
	entries, _ := bundle["entry"].([]any)
	if len(entries) == 0 {
		t.Fatalf("empty searchset: %v", bundle)
	}
	res, _ := entries[0].(map[string]any)["resource"].(map[string]any)
	id, _ := res["id"].(string)
	return id
}

// Finding 4: bodies are read only after authentication, through the limit,
// also when compressed.
func TestSecurityBodies(t *testing.T) {
	s := startServer(t, "sqlite") // MaxBody 1 MiB
	bomb := gzipped(bytes.Repeat([]byte(" "), 16<<20))
	patient := gzipped([]byte(`{"resourceType":"Patient","name":[{"family":"Zipped"}]}`))
	fj := "application/fhir+json"
	s.run(t, nil, []attack{
		{name: "token-less gzip bomb", method: "POST", url: "/fhir/Patient", ctype: fj, body: bomb, header: []string{"Content-Encoding", "gzip"}, want: 401},
		{name: "gzip bomb", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: bomb, header: []string{"Content-Encoding", "gzip"}, want: 413},
		{name: "gzip bomb at the token endpoint", method: "POST", url: "/auth/token", ctype: formType, body: bomb, header: []string{"Content-Encoding", "gzip"}, want: 413},
		{name: "nested encodings", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient, header: []string{"Content-Encoding", "gzip, gzip"}, want: 415},
		{name: "unknown encoding", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: "xx", header: []string{"Content-Encoding", "br"}, want: 415},
		{name: "broken gzip", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: "not gzip", header: []string{"Content-Encoding", "gzip"}, want: 400},
		{name: "gzip still works", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient, header: []string{"Content-Encoding", "gzip"}, want: 201},
		{name: "token-less over the limit", method: "POST", url: "/fhir/Patient", ctype: fj, body: strings.Repeat(" ", 2<<20), want: 413},
		{name: "token-less multipart", method: "POST", url: "/admin/api/clients", ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + strings.Repeat("a", 512<<10) + "\r\n--x--\r\n", want: 401},
	})
}

func gzipped(b []byte) string {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.String()
}

// uiSession signs in to the admin UI as admin and returns a client with
// the session cookie and the session's CSRF token.
func (s *testServer) uiSession(t *testing.T) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	token := s.loginToken(t, c)
	r := s.send(c, attack{name: "sign in", method: "POST", url: "/login", ctype: formType,
		body: url.Values{"csrf": {token}, "user": {"admin"}, "password": {testAdminPassword}}.Encode()})
	if r.status != 303 {
		t.Fatalf("sign in: %d %s", r.status, truncate(r.body))
	}
	page := s.send(c, attack{name: "dashboard", method: "GET", url: "/"})
	m := csrfRE.FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("no CSRF token on the dashboard: %d", page.status)
	}
	return c, string(m[1])
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// loginToken fetches the sign-in form and returns its CSRF token.
func (s *testServer) loginToken(t *testing.T, c *http.Client) string {
	t.Helper()
	m := csrfRE.FindSubmatch(s.send(c, attack{name: "login form", method: "GET", url: "/login"}).body)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in form")
	}
	return string(m[1])
}

// Finding 6: redirect targets after sign-in are same-origin paths.
func TestSecurityRedirects(t *testing.T) {
	s := startServer(t, "sqlite")
	c, _ := s.uiSession(t)
	for _, next := range []string{"/%09/evil.example", "//evil.example", "/%5Cevil.example", "%5C%5Cevil.example",
		"https:evil.example", "http://evil.example/", "%2F%2Fevil.example", "/%2F%2Fevil.example", "/%252F%252Fevil.example",
		"/%0D%0ASet-Cookie:x=1", "/%E2%80%AE/evil.example", "javascript:alert(1)", "%09//evil.example", "///evil.example",
		"/%5C/evil.example", "evil.example"} {
		r := s.send(c, attack{name: "next=" + next, method: "GET", url: "/login?next=" + next})
		if loc := r.header.Get("Location"); r.status != 303 || loc != "/" {
			t.Errorf("next=%s: %d Location %q, want 303 to /", next, r.status, loc)
		}
	}
	if r := s.send(c, attack{method: "GET", url: "/login?next=/review%3Fx%3D1"}); r.header.Get("Location") != "/review?x=1" {
		t.Errorf("a local path is kept: %q", r.header.Get("Location"))
	}
	// After signing in, too.
	jar, _ := cookiejar.New(nil)
	fresh := noRedirects(jar)
	token := s.loginToken(t, fresh)
	r := s.send(fresh, attack{method: "POST", url: "/login", ctype: formType,
		body: url.Values{"csrf": {token}, "user": {"admin"}, "password": {testAdminPassword}, "next": {"/\t/evil.example"}}.Encode()})
	if loc := r.header.Get("Location"); r.status != 303 || loc != "/" {
		t.Errorf("sign-in with next=/\\t/evil.example: %d %q", r.status, loc)
	}
}

// Finding 10: a UI form post's CSRF token comes from the body or the
// X-CSRF-Token header, never the query string.
func TestSecurityCSRF(t *testing.T) {
	s := startServer(t, "sqlite")
	c, csrf := s.uiSession(t)
	jar, _ := cookiejar.New(nil)
	fresh := noRedirects(jar)
	login := s.loginToken(t, fresh)
	creds := url.Values{"user": {"admin"}, "password": {testAdminPassword}}.Encode()
	s.run(t, c, []attack{
		{name: "token in the query", method: "POST", url: "/admin/policy/add?csrf=" + csrf, ctype: formType, body: "line=p,+role:reader,+AuditEvent,+*,+read,+allow", want: 403},
		{name: "logout, token in the query", method: "POST", url: "/logout?csrf=" + csrf, ctype: formType, body: "x=1", want: 403},
	})
	s.run(t, fresh, []attack{
		{name: "sign-in token in the query", method: "POST", url: "/login?csrf=" + login, ctype: formType, body: creds, want: 403},
	})
	login = s.loginToken(t, fresh)
	s.run(t, fresh, []attack{
		{name: "credentials in the query", method: "POST", url: "/login?" + creds, ctype: formType, body: "csrf=" + login, want: 401},
	})
	// The rule was not added; the header and the body are accepted.
	if _, rules := s.admin("GET", "/rules", ""); strings.Contains(strings.ToLower(fmt.Sprint(rules)), "auditevent") {
		t.Errorf("a rule was added through a query-string token: %v", rules)
	}
	s.run(t, c, []attack{
		{name: "token in the header", method: "POST", url: "/logout", ctype: formType, body: "x=1", header: []string{"X-CSRF-Token", csrf}, want: 303},
	})
}

// Finding 9: Host and X-Forwarded-* headers choose neither the token
// audience nor the URLs idem answers with, unless a trusted proxy sends them.
func TestSecurityHostHeaders(t *testing.T) {
	s := startServer(t, "sqlite") // no base URL, no trusted proxies
	backend := newSMARTClient(t, "backend")
	if status, out := s.admin("POST", "/clients", `{"name":"backend","system":"https://backend.example.org","roles":["reader"],"jwks":`+backend.jwks+`}`); status != 201 {
		t.Fatalf("add client: %d %v", status, out)
	}
	evilAud := "http://evil.example/auth/token"
	token := func(jti string) string { return tokenForm(backend.assertion(t, evilAud, jti), "") }
	fj := "application/fhir+json"
	patient := `{"resourceType":"Patient","name":[{"family":"Hosted"}]}`
	s.run(t, nil, []attack{
		{name: "aud of another host, Host", method: "POST", url: "/auth/token", ctype: formType, body: token("h1"), header: []string{"Host", "evil.example"}, want: 400, never: "access_token"},
		{name: "aud of another host, X-Forwarded-Host", method: "POST", url: "/auth/token", ctype: formType, body: token("h2"), header: []string{"X-Forwarded-Host", "evil.example"}, want: 400, never: "access_token"},
		{name: "Location, Host", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient, header: []string{"Host", "evil.example"}, want: 201, never: "evil.example"},
		{name: "Location, X-Forwarded-Host", as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient, header: []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, want: 201, never: "evil.example"},
		{name: "Bundle links", as: testAdminToken, method: "GET", url: "/fhir/Patient?family=hosted", header: []string{"X-Forwarded-Host", "evil.example"}, want: 200, never: "evil.example"},
		{name: "Bundle links, Host", as: testAdminToken, method: "GET", url: "/fhir/Patient?family=hosted", header: []string{"Host", "evil.example"}, want: 200, never: "evil.example"},
		{name: "transaction response", as: testAdminToken, method: "POST", url: "/fhir", ctype: fj, header: []string{"Host", "evil.example"},
			body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + patient + `,"request":{"method":"POST","url":"Patient"}}]}`, want: 200, never: "evil.example"},
		{name: "CapabilityStatement", method: "GET", url: "/fhir/metadata", header: []string{"Host", "evil.example"}, want: 200, never: "evil.example"},
		{name: "SMART discovery", method: "GET", url: "/.well-known/smart-configuration", header: []string{"X-Forwarded-Host", "evil.example"}, want: 200, never: "evil.example"},
		{name: "sign-in redirect", method: "GET", url: "/review", header: []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example"}, want: 303, never: "evil.example"},
	})

	// Behind a trusted proxy its X-Forwarded-Host names the URLs, but
	// the token audience stays the listen address.
	proxied := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.TrustedProxies = "127.0.0.1" })
	if status, out := proxied.admin("POST", "/clients", `{"name":"backend","system":"https://backend.example.org","roles":["reader"],"jwks":`+backend.jwks+`}`); status != 201 {
		t.Fatalf("add client: %d %v", status, out)
	}
	r := proxied.send(nil, attack{as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient,
		header: []string{"X-Forwarded-Host", "idem.example.org", "X-Forwarded-Proto", "https"}})
	if loc := r.header.Get("Location"); r.status != 201 || !strings.HasPrefix(loc, "https://idem.example.org/fhir/Patient/") {
		t.Errorf("behind a trusted proxy: %d Location %q", r.status, loc)
	}
	proxied.run(t, nil, []attack{
		{name: "trusted proxy, aud of the forwarded host", method: "POST", url: "/auth/token", ctype: formType,
			body: tokenForm(backend.assertion(t, "https://idem.example.org/auth/token", "p1"), ""), header: []string{"X-Forwarded-Host", "idem.example.org", "X-Forwarded-Proto", "https"}, want: 400, never: "access_token"},
		{name: "trusted proxy, aud of the listen address", method: "POST", url: "/auth/token", ctype: formType,
			body: tokenForm(backend.assertion(t, proxied.URL()+"/auth/token", "p2"), ""), header: []string{"X-Forwarded-Host", "idem.example.org"}, want: 200},
	})

	// With a base URL configured, it alone.
	based := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.BaseURL = "https://registry.example.org/fhir"; c.TrustedProxies = "127.0.0.1" })
	r = based.send(nil, attack{as: testAdminToken, method: "POST", url: "/fhir/Patient", ctype: fj, body: patient,
		header: []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example"}})
	if loc := r.header.Get("Location"); r.status != 201 || !strings.HasPrefix(loc, "https://registry.example.org/fhir/Patient/") {
		t.Errorf("with a base URL: %d Location %q", r.status, loc)
	}
}

// countingReader yields n spaces, counting what was read.
type countingReader struct{ n, read int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.read)
	for i := range p[:k] {
		p[i] = ' '
	}
	r.read += k
	return int(k), nil
}

// Finding 4: a token-less upload is answered without being read: a huge
// chunked one, and one whose body the client holds back.
func TestSecurityUploadBeforeAuth(t *testing.T) {
	s := startServer(t, "sqlite") // MaxBody 1 MiB
	body := &countingReader{n: 120 << 20}
	req, _ := http.NewRequest("POST", s.base+"/Patient", body)
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chunked upload: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 && resp.StatusCode != 413 {
		t.Errorf("token-less chunked 120 MiB: %d", resp.StatusCode)
	}
	if body.read >= body.n {
		t.Errorf("the whole 120 MiB was sent")
	}
	// Headers and 16 KiB of a declared 512 KiB: the 401 comes before the rest
	// (fasthttp reads ahead 8 KiB at most).
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /fhir/Patient HTTP/1.1\r\nHost: idem\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", 512<<10, strings.Repeat(" ", 16<<10))
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute)) // only ends a hang
	got, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || got.StatusCode != 401 || !got.Close {
		t.Fatalf("held-back body: %v %v", got, err)
	}
}
