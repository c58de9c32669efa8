package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"idem/linkage"
	"idem/matching"
	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/web"
	"idem/web/internal/authtest"
)

// The admin UI tests' environment: a fake Auth (the policy package is
// tested on its own), a real SQLite store with the linker wired as app
// wires it, and a browser-like client with a cookie jar.

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

var _ web.Auth = (*authtest.Auth)(nil)

// uiEnv is a server over a fresh SQLite store with linking, and the
// records its tests look at.
type uiEnv struct {
	t      *testing.T
	srv    *web.Server
	svc    *registry.Service
	links  registry.LinkStore
	auth   *authtest.Auth
	a, b   *registry.Outcome // a Patient and a record that may be a's (in review)
	linked *registry.Outcome // a Location's Linkage
}

func newUIEnv(t *testing.T, withAuth bool) *uiEnv {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	models := linkage.NewModels(store, matching.DefaultRules(), time.Hour, quietLog)
	m := linkage.NewMatcher(store, models, quietLog)
	w := &registry.Writer{MatchIndex: m.Index}
	l := linkage.NewLinker(store, w, m, linkage.LinkerConfig{}, quietLog)
	svc := &registry.Service{Store: store, Writer: w, Steps: registry.Steps{Link: l}}
	env := &uiEnv{t: t, svc: svc, links: store}
	cfg := web.Config{}
	pages := Config{Registry: svc, Matcher: m, Linker: l, Log: quietLog}
	if withAuth {
		env.auth = authtest.New()
		cfg.Auth, pages.Auth = env.auth, env.auth
		cfg.Audit = registry.NewAuditor(store, w, "idem test")
		svc.Audit = cfg.Audit // the pipeline's audit step, as app wires it
	}
	env.srv = web.New(cfg, svc, m, l, quietLog, store.Ping)
	Mount(env.srv, pages)
	env.a = env.create(`{"resourceType":"Patient","meta":{"source":"http://ehr.example/fhir/Patient/1"},
		"identifier":[{"system":"http://ehr.example/fhir/mrn","value":"1"}],"name":[{"family":"Wisniewska","given":["Zofia"]}],
		"gender":"female","birthDate":"1971-03-09","telecom":[{"system":"phone","value":"555-201-3344"}],
		"address":[{"line":["12 Acacia Avenue"],"city":"Springfield","postalCode":"62704"}]}`)
	// The same name and nothing else: uncertain, so a review item. The
	// name carries markup, which must come out inert.
	env.b = env.create(`{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/7"},
		"name":[{"family":"Wisniewska","given":["Zofia<script>alert(1)</script>"]}]}`)
	loc := `{"resourceType":"Location","meta":{"source":"%s/Location/%s"},"status":"active","name":%q,
		"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}],
		"address":{"line":["1 Hospital Drive"],"city":"Springfield","postalCode":"62704"},"telecom":[{"system":"phone","value":"555-100-2000"}]}`
	env.create(fmt.Sprintf(loc, "http://ehr.example/fhir", "1", "Springfield General Hospital"))
	env.linked = env.create(fmt.Sprintf(loc, "http://lab.example/fhir", "4", "Springfield General Hosp."))
	return env
}

func (e *uiEnv) create(js string) *registry.Outcome {
	e.t.Helper()
	res, err := fhir.ParseResource([]byte(js), "")
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.svc.Create(context.Background(), res["resourceType"].(string), res, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// review returns the open POSSIBLE_MATCH links.
func (e *uiEnv) review() []*registry.Link {
	e.t.Helper()
	page, err := e.links.QueryLinks(context.Background(), registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Links
}

// browser is a client with a cookie jar, not following redirects.
type browser struct {
	e       *uiEnv
	cookies map[string]string
	csrf    string
}

// page is one response, parsed when it is HTML.
type page struct {
	status   int
	location string
	doc      *goquery.Document
	body     string
}

func (e *uiEnv) browser() *browser { return &browser{e: e, cookies: map[string]string{}} }

func (b *browser) do(method, path string, form url.Values) *page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.e.srv.App().Test(req, -1)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	data, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = goquery.NewDocumentFromReader(strings.NewReader(p.body)); err != nil {
			b.e.t.Fatal(err)
		}
		if v, ok := p.doc.Find(`input[name="csrf"]`).Attr("value"); ok && b.cookies[sessionCookie] != "" {
			b.csrf = v
		}
	}
	return p
}

func (b *browser) get(path string) *page { return b.do(http.MethodGet, path, nil) }

// post sends a form with the page's CSRF token.
func (b *browser) post(path string, form url.Values) *page {
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.do(http.MethodPost, path, form)
}

// login signs in as user through the form.
func (b *browser) login(user string) {
	b.e.t.Helper()
	form := b.get("/login")
	token, _ := form.doc.Find(`#login-form input[name="csrf"]`).Attr("value")
	p := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {user}, "password": {authtest.Users[user].Password}, "next": {"/"}})
	if p.status != http.StatusSeeOther || p.location != "/" {
		b.e.t.Fatalf("login %s: %d %s\n%s", user, p.status, p.location, p.body)
	}
	b.get("/") // picks up the session's CSRF token
}

func (p *page) must(t *testing.T, status int, selectors ...string) *page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d\n%s", p.status, status, p.body)
	}
	for _, sel := range selectors {
		if p.doc == nil || p.doc.Find(sel).Length() == 0 {
			t.Fatalf("no %q in the page\n%s", sel, p.body)
		}
	}
	return p
}

func (p *page) text(sel string) string { return strings.TrimSpace(p.doc.Find(sel).First().Text()) }
