package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"idem/linkage"
	"idem/matching"
	"idem/policy"
	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

// The admin UI tests' environment: a fake Auth (the policy package is
// tested on its own), a real SQLite store with the linker wired as app
// wires it, and a browser-like client with a cookie jar.

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeAuth is a test double of Auth: a few users, in-memory sessions,
// clients and rules, and a small fixed policy.
type fakeAuth struct {
	mu       sync.Mutex
	sessions map[string]fakeSession
	clients  []policy.Client
	rules    []policy.Rule
	n        int
}

type fakeSession struct {
	p    registry.Actor
	csrf string
}

var fakeUsers = map[string]struct {
	password string
	roles    []string
}{
	"ann":   {"ann-pw", []string{"steward"}},
	"root":  {"root-pw", []string{"admin"}},
	"rita":  {"rita-pw", []string{"reader"}},
	"nosey": {"nosey-pw", []string{"steward"}},
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{sessions: map[string]fakeSession{}, rules: []policy.Rule{{Type: "p", Values: []string{"role:reader", "Patient", "*", "read", "allow"}, Builtin: true}}}
}

func (a *fakeAuth) Authenticate(ctx context.Context, token string) (policy.Principal, error) {
	return registry.Actor{}, registry.Errorf(registry.EUnauthorized, "no such token")
}

func (a *fakeAuth) Decide(pr policy.Principal, action, typ string, domains []string) policy.Decision {
	p := registry.Actor(pr)
	switch {
	case p.HasRole("admin"):
		return policy.Decision{Allowed: true, Rule: "p, role:admin, *, *, *, allow", Reason: "admins may do anything"}
	case p.Name == "nosey" && action == "link":
		return policy.Decision{Rule: "p, user:nosey, *, *, link, deny", Reason: "nosey may not link"}
	case p.HasRole("steward") && slices.Contains([]string{"read", "search", "link", "merge"}, action):
		return policy.Decision{Allowed: true, Rule: "p, role:steward, " + typ + ", *, " + action + ", allow", Reason: "stewards may"}
	case p.HasRole("reader") && (action == "read" || action == "search"):
		return policy.Decision{Allowed: true, Rule: "p, role:reader, *, *, read, allow", Reason: "readers read"}
	}
	return policy.Decision{Rule: "built-in: default deny", Reason: p.Name + " may not " + action + " " + typ}
}

func (a *fakeAuth) DecideOwner(p policy.Principal, action, typ, source string) policy.Decision {
	return policy.Decision{Allowed: registry.Actor(p).HasRole("admin"), Rule: "built-in: owner"}
}

func (a *fakeAuth) Allow(name string) (bool, time.Duration)       { return true, 0 }
func (a *fakeAuth) AutoLink(typ string) bool                      { return true }
func (a *fakeAuth) Mode(typ string) policy.Mode                   { return policy.SharedRegistry }
func (a *fakeAuth) Intake(string, string) (policy.Intake, string) { return policy.Accept, "" }

func (a *fakeAuth) Throttle(context.Context, string, string) (time.Duration, error) { return 0, nil }
func (a *fakeAuth) SignInFailed(context.Context, string, string) error              { return nil }
func (a *fakeAuth) SignInSucceeded(context.Context, string) error                   { return nil }

func (a *fakeAuth) Login(ctx context.Context, user, password string) (string, string, error) {
	u, ok := fakeUsers[user]
	if !ok || u.password != password {
		return "", "", registry.Errorf(registry.EUnauthorized, "wrong user name or password")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	id := fmt.Sprintf("session-%d", a.n)
	a.sessions[id] = fakeSession{p: registry.Actor{Kind: "user", Name: user, Roles: u.roles}, csrf: fmt.Sprintf("csrf-%d", a.n)}
	return id, a.sessions[id].csrf, nil
}

func (a *fakeAuth) Session(ctx context.Context, id string) (policy.Principal, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return registry.Actor{}, "", registry.Errorf(registry.EUnauthorized, "no such session")
	}
	return s.p, s.csrf, nil
}

func (a *fakeAuth) Logout(ctx context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
	return nil
}

func (a *fakeAuth) Clients(ctx context.Context) ([]policy.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.clients), nil
}

func (a *fakeAuth) AddClient(ctx context.Context, c policy.Client) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.Name == "" || len(c.Roles) == 0 {
		return "", registry.Errorf(registry.EInvalid, "a client needs a name and a role")
	}
	if slices.ContainsFunc(a.clients, func(x policy.Client) bool { return x.Name == c.Name }) {
		return "", registry.Errorf(registry.EConflict, "client %s exists", c.Name)
	}
	c.Created = time.Now()
	a.clients = append(a.clients, c)
	return "idem_secret_" + c.Name, nil
}

func (a *fakeAuth) RevokeClient(ctx context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.clients {
		if a.clients[i].Name == name {
			a.clients[i].Revoked = time.Now()
			return nil
		}
	}
	return registry.Errorf(registry.ENotFound, "no client %s", name)
}

func (a *fakeAuth) Rules() ([]policy.Rule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.rules), nil
}

func (a *fakeAuth) AddRule(ctx context.Context, r policy.Rule) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rules = append(a.rules, r)
	return nil
}

func (a *fakeAuth) RemoveRule(ctx context.Context, r policy.Rule) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.rules, func(x policy.Rule) bool { return x.String() == r.String() && !x.Builtin })
	if i < 0 {
		return registry.Errorf(registry.ENotFound, "no stored rule %q", r.String())
	}
	a.rules = slices.Delete(a.rules, i, i+1)
	return nil
}

func (a *fakeAuth) DryRunPrincipal(ctx context.Context, who string) (policy.Principal, error) {
	kind, name, _ := strings.Cut(who, ":")
	a.mu.Lock()
	defer a.mu.Unlock()
	switch i := slices.IndexFunc(a.clients, func(c policy.Client) bool { return c.Name == name }); {
	case kind == "role" && name != "":
		return registry.Actor{Kind: "user", Name: "(any " + name + ")", Roles: []string{name}}, nil
	case kind == "client" && i >= 0:
		return a.clients[i].Principal(), nil
	}
	return registry.Actor{}, registry.Errorf(registry.ENotFound, "no client %q", name)
}

var _ Auth = (*fakeAuth)(nil)

// uiEnv is a server over a fresh SQLite store with linking, and the
// records its tests look at.
type uiEnv struct {
	t      *testing.T
	srv    *Server
	svc    *registry.Service
	links  registry.LinkStore
	auth   *fakeAuth
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
	cfg := Config{}
	if withAuth {
		env.auth = newFakeAuth()
		cfg.Auth = env.auth
		cfg.Audit = registry.NewAuditor(store, w, "idem test")
		svc.Audit = cfg.Audit // the pipeline's audit step, as app wires it
	}
	env.srv = New(cfg, svc, m, l, quietLog, store.Ping)
	env.a = env.create(`{"resourceType":"Patient","meta":{"source":"http://ehr.example/fhir/Patient/1"},
		"identifier":[{"system":"http://ehr.example/fhir/mrn","value":"1"}],"name":[{"family":"Wisniewska","given":["Zofia"]}],
		"gender":"female","birthDate":"1971-03-09","telecom":[{"system":"phone","value":"555-201-3344"}],
		"address":[{"line":["12 Acacia Avenue"],"city":"Springfield","postalCode":"62704"}]}`)
	// Same name, only the birth year: uncertain, so a review item. The
	// name carries markup, which must come out inert.
	env.b = env.create(`{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/7"},
		"name":[{"family":"Wisniewska","given":["Zofia<script>alert(1)</script>"]}],"birthDate":"1971"}`)
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
	p := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {user}, "password": {fakeUsers[user].password}, "next": {"/"}})
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
