package ui

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"idem/registry"
)

// The admin UI over HTTP: every page and action, with a fake Auth and a
// real SQLite store with the linker wired as app wires it (ui_env_test.go).

func TestUIClosedWithoutAuth(t *testing.T) {
	e := newUIEnv(t, false)
	for _, path := range []string{"/", "/login", "/review", "/admin/clients"} {
		p := e.browser().get(path).must(t, http.StatusServiceUnavailable, "#error")
		if !strings.Contains(p.text(".message"), "admin UI needs authentication configured") {
			t.Errorf("%s: message %q", path, p.text(".message"))
		}
	}
}

func TestUILoginRequired(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	for _, path := range []string{"/", "/review", "/review/compare?source=Patient/x&golden=Person/y", "/search?name=x", "/audit", "/admin/clients", "/admin/policy", "/person/x"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login?next=") {
			t.Errorf("GET %s without a session: %d %q, want a redirect to the login", path, p.status, p.location)
		}
	}
	if p := b.do(http.MethodPost, "/review/decide", url.Values{"action": {"link"}}); p.status != http.StatusSeeOther || p.location != "/login" {
		t.Errorf("POST without a session: %d %q", p.status, p.location)
	}
	// The login form needs its own CSRF token, and a right password.
	b.get("/login").must(t, http.StatusOK, "#login-form", `#login-form input[name="csrf"]`)
	b.do(http.MethodPost, "/login", url.Values{"user": {"ann"}, "password": {"ann-pw"}}).must(t, http.StatusForbidden, "#login-error")
	token, _ := b.get("/login").doc.Find(`#login-form input[name="csrf"]`).Attr("value")
	b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {"ann"}, "password": {"wrong"}}).must(t, http.StatusUnauthorized, "#login-error")
	// A user with neither role is refused; the next page after sign-in is kept (on this site only).
	b.login("rita")
	b.get("/").must(t, http.StatusForbidden, "#error")
	b = e.browser()
	token, _ = b.get("/login?next=/review").doc.Find(`#login-form input[name="csrf"]`).Attr("value")
	if p := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {"ann"}, "password": {"ann-pw"}, "next": {"/review"}}); p.location != "/review" {
		t.Errorf("after sign-in to %q, want /review", p.location)
	}
	b = e.browser()
	token, _ = b.get("/login").doc.Find(`#login-form input[name="csrf"]`).Attr("value")
	if p := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "user": {"ann"}, "password": {"ann-pw"}, "next": {"//evil.example/"}}); p.location != "/" {
		t.Errorf("sign-in redirected off-site to %q", p.location)
	}
}

func TestUISessionCookieAndLogout(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	token, _ := b.get("/login").doc.Find(`#login-form input[name="csrf"]`).Attr("value")
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"csrf": {token}, "user": {"ann"}, "password": {"ann-pw"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: b.cookies[loginCookie]})
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Fatalf("session cookie %+v", session)
	}
	b.login("ann")
	p := b.get("/").must(t, http.StatusOK, "#user", "#logout")
	if p.text("#user") != "ann · steward" {
		t.Errorf("user shown as %q", p.text("#user"))
	}
	// Logout is a POST with the CSRF token; afterwards the session is gone.
	b.do(http.MethodPost, "/logout", url.Values{"csrf": {"wrong"}}).must(t, http.StatusForbidden)
	if p := b.post("/logout", url.Values{}); p.status != http.StatusSeeOther || p.location != "/login" {
		t.Fatalf("logout: %d %q", p.status, p.location)
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("after logout GET / is %d", p.status)
	}
}

func TestUIDashboard(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	p := b.get("/").must(t, http.StatusOK, "#stats", `.stat-card[data-type="Patient"]`, "#review-counts", "svg#histogram", "svg#histogram rect.bar-review", "svg#histogram line.th-certain", "#autolink")
	if got := p.text(`.stat-card[data-type="Patient"] .stat`); got != "2" {
		t.Errorf("Patient count %q, want 2", got)
	}
	systems := p.doc.Find(`.stat-card[data-type="Patient"] .systems a`).Text()
	if !strings.Contains(systems, "http://ehr.example/fhir") || !strings.Contains(systems, "http://gp.example/fhir") {
		t.Errorf("source systems %q", systems)
	}
	if !strings.Contains(p.doc.Find("#review-counts").Text(), "POSSIBLE_MATCH") {
		t.Errorf("review counts: %s", p.doc.Find("#review-counts").Text())
	}
	// The rate is over the matcher's decisions: a record waiting in review
	// is not counted as decided.
	if got := p.text("#dec-review"); !strings.HasPrefix(got, "1 sent to review (1 still waiting)") {
		t.Errorf("review decisions %q", got)
	}
	if got := p.text("#autolink"); strings.HasPrefix(got, "100") {
		t.Errorf("decided by the matcher %q beside an open review item", got)
	}
	// The y axis is a log scale: its ticks are powers of ten.
	if got := p.doc.Find("svg#histogram text").First().Text(); got != "1" {
		t.Errorf("first y tick %q, want 1", got)
	}
	if got := p.doc.Find("svg#histogram line.th").Length(); got != 3 {
		t.Errorf("threshold lines %d, want 3", got)
	}
	b.get("/?type=Location").must(t, http.StatusOK, "svg#histogram")
	b.get("/?type=Nope").must(t, http.StatusBadRequest, "#error")
	if h := b.get("/").doc; h == nil {
		t.Fatal("no page")
	}
	// Static files are served with a checksum URL and the page's policy.
	css, _ := p.doc.Find(`link[rel="stylesheet"]`).Attr("href")
	if s := b.get(css); s.status != http.StatusOK || !strings.Contains(s.body, "--agree") {
		t.Errorf("GET %s: %d", css, s.status)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: b.cookies[sessionCookie]})
	resp, _ := e.srv.App().Test(req, -1)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestUIReviewQueueAndFilters(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	p := b.get("/review").must(t, http.StatusOK, "#queue-filters", "#queue tr.item")
	if n := p.doc.Find("#queue tr.item").Length(); n != 1 {
		t.Fatalf("queue items %d, want 1", n)
	}
	// Each item says why it is in review.
	if why := p.text("#queue tr.item .reason"); why != "probable match" {
		t.Errorf("queue item's reason %q, want %q", why, "probable match")
	}
	// Record content is escaped: the markup in the name is text.
	if p.doc.Find("#queue script").Length() != 0 || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Errorf("record markup not escaped")
	}
	for _, tc := range []struct {
		query string
		items int
	}{
		{"type=Patient", 1},
		{"type=Practitioner", 0},
		{"grade=probable", 1},
		{"grade=certain", 0},
		{"min=0.9999", 0},
		{"min=0&max=1&sort=score", 1},
		{"system=http://gp.example/fhir", 1},
		{"system=http://ehr.example/fhir", 0},
		{"age=30d", 0},
	} {
		p := b.get("/review?"+tc.query).must(t, http.StatusOK)
		if n := p.doc.Find("#queue tr.item").Length(); n != tc.items {
			t.Errorf("%s: %d items, want %d", tc.query, n, tc.items)
		}
	}
	for _, bad := range []string{"type=Nope", "grade=great", "min=2", "age=3y", "sort=name", "offset=-1"} {
		b.get("/review?"+bad).must(t, http.StatusBadRequest, "#error")
	}
	// The next item opens the comparison; past the end the list.
	if p := b.get("/review/next?pos=0"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/review/compare?") {
		t.Errorf("next: %d %q", p.status, p.location)
	}
	if p := b.get("/review/next?pos=0&type=Practitioner"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/review?") {
		t.Errorf("next in an empty queue: %d %q", p.status, p.location)
	}
}

func TestUICompareAndDecide(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	k := e.review()[0]
	compare := "/review/compare?" + url.Values{"source": {k.Source()}, "golden": {k.Golden()}, "pos": {"0"}}.Encode()
	p := b.get(compare).must(t, http.StatusOK, "#question", "#score", "#grade", "#model", "#side-by-side", "#evidence tbody tr",
		`#decide button[data-key="m"]`, `#decide button[data-key="n"]`, "#act-separate", `a[data-key="s"]`, "#evidence tr.ev-agree")
	if p.doc.Find("script:not([src])").Length() != 0 {
		t.Errorf("an inline script in the compare page")
	}
	// Identifiers of different systems and another source system are not
	// conflicts: the evidence calls them missing.
	for _, row := range []string{"Identifiers", "Source system"} {
		if p.doc.Find(`#side-by-side tr[data-field="`+row+`"] td.cell-disagree`).Length() != 0 {
			t.Errorf("%s coloured as a conflict", row)
		}
	}
	if p.doc.Find(`#side-by-side tr[data-field="Identifiers"] td.cell-missing`).Length() == 0 {
		t.Error("identifiers of different systems not shown as missing")
	}
	if why := p.text("#reason"); !strings.Contains(why, "probable match") {
		t.Errorf("the compare page's reason %q", why)
	}
	if got := p.text("#score .stat"); got != fmt.Sprintf("%.4f", k.Score) {
		t.Errorf("score shown %q, link %v", got, k.Score)
	}
	b.get("/review/compare?source=Patient/nope&golden="+k.Golden()).must(t, http.StatusNotFound, "#error")
	b.get("/review/compare?source=nope").must(t, http.StatusBadRequest, "#error")

	decide := func(action string) url.Values {
		return url.Values{"golden": {k.Golden()}, "source": {k.Source()}, "pos": {"0"}, "back": {""}, "action": {action}}
	}
	// Without the right CSRF token nothing happens.
	b.do(http.MethodPost, "/review/decide", url.Values{"csrf": {"forged"}, "golden": {k.Golden()}, "source": {k.Source()}, "action": {"link"}}).
		must(t, http.StatusForbidden, "#error")
	b.do(http.MethodPost, "/review/decide", decide("link")).must(t, http.StatusForbidden, "#error")
	if len(e.review()) != 1 {
		t.Fatal("a refused POST changed the queue")
	}
	b.post("/review/decide", decide("maybe")).must(t, http.StatusBadRequest, "#error")
	// Link: the record joins the Person; the message offers undo.
	p = b.post("/review/decide", decide("link"))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/review/next?") {
		t.Fatalf("decide: %d %q", p.status, p.location)
	}
	if len(e.review()) != 0 {
		t.Fatal("the item is still in review")
	}
	p = b.get(p.location) // an empty queue: the list, with the message
	p = b.get(p.location).must(t, http.StatusOK, "#flash", "#flash-undo", "#empty")
	if !strings.Contains(p.text("#flash"), "Linked "+k.Source()+" to "+k.Golden()) {
		t.Errorf("flash %q", p.text("#flash"))
	}
	op, _ := p.doc.Find(`#flash input[name="op"]`).Attr("value")
	// The Person now holds both records, the second MANUAL.
	person := b.get(goldenURL(k.Golden())).must(t, http.StatusOK, "#golden-values", "#members", "#timeline li.decision")
	if n := person.doc.Find("#members tr.member").Length(); n != 2 {
		t.Fatalf("Person members %d, want 2", n)
	}
	if !strings.Contains(person.doc.Find("#members").Text(), "MANUAL") || !strings.Contains(person.doc.Find("#timeline").Text(), "ann") {
		t.Errorf("members/timeline lack the steward's decision:\n%s", person.doc.Find("#timeline").Text())
	}
	// The timeline names the records; their ids come second.
	if names := person.doc.Find("#timeline li.change .name").Text(); !strings.Contains(names, "Wisniewska") {
		t.Errorf("timeline names %q, want the records' names", names)
	}
	// Undo from the message puts the item back in review.
	if p := b.post("/undo", url.Values{"op": {op}, "back": {"/review"}}); p.status != http.StatusSeeOther || p.location != "/review" {
		t.Fatalf("undo: %d %q", p.status, p.location)
	}
	if len(e.review()) != 1 {
		t.Fatal("undo did not restore the review item")
	}
	b.get("/review").must(t, http.StatusOK, "#flash", "#queue tr.item")
	// Undoing twice is a conflict, reported as a message.
	b.post("/undo", url.Values{"op": {op}, "back": {"/review"}})
	if p := b.get("/review"); !strings.Contains(p.text("#flash"), "already undone") {
		t.Errorf("second undo: %q", p.text("#flash"))
	}
	// Not a duplicate: a sticky NO_MATCH.
	b.post("/review/decide", decide("nomatch"))
	if len(e.review()) != 0 {
		t.Fatal("not-a-duplicate left the item in review")
	}
	page, _ := e.links.QueryLinks(context.Background(), registry.LinkFilter{SourceType: k.SourceType, SourceID: k.SourceID, MatchResult: []string{registry.MatchResultNoMatch}})
	if page.Total != 1 || page.Links[0].LinkSource != registry.LinkSourceManual {
		t.Fatalf("NO_MATCH links %+v", page.Links)
	}
	// The decided item still opens, without actions.
	b.get(compare).must(t, http.StatusOK, "#decided")
}

func TestUISeparateAndPolicy(t *testing.T) {
	e := newUIEnv(t, true)
	k := e.review()[0]
	form := url.Values{"golden": {k.Golden()}, "source": {k.Source()}, "pos": {"0"}, "back": {"type=Patient"}, "action": {"separate"}}
	// A steward the policy does not let link is refused.
	nosey := e.browser()
	nosey.login("nosey")
	nosey.post("/review/decide", maps.Clone(form)).must(t, http.StatusForbidden, "#error")
	b := e.browser()
	b.login("ann")
	if p := b.post("/review/decide", form); p.status != http.StatusSeeOther || !strings.Contains(p.location, "type=Patient") {
		t.Fatalf("separate: %d %q", p.status, p.location)
	}
	if len(e.review()) != 0 {
		t.Fatal("create-separate left candidates in review")
	}
}

func TestUIUnlink(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	k := e.review()[0]
	b.post("/review/decide", url.Values{"golden": {k.Golden()}, "source": {k.Source()}, "pos": {"0"}, "back": {""}, "action": {"link"}})
	back := goldenURL(k.Golden())
	p := b.post("/unlink", url.Values{"golden": {k.Golden()}, "source": {k.Source()}, "back": {back}})
	if p.status != http.StatusSeeOther || p.location != back {
		t.Fatalf("unlink: %d %q", p.status, p.location)
	}
	p = b.get(back).must(t, http.StatusOK, "#flash", "#flash-undo")
	if n := p.doc.Find("#members tr.member").Length(); n != 1 {
		t.Errorf("members after unlink %d, want 1", n)
	}
	b.post("/unlink", url.Values{"golden": {"Person/nope"}, "source": {k.Source()}}).must(t, http.StatusNotFound, "#error")
}

func TestUILinkageAndSearch(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	g, err := registry.ParseRef(e.linked.Golden)
	if err != nil {
		t.Fatal(err)
	}
	id := g.ID
	p := b.get("/linkage/"+id).must(t, http.StatusOK, "#members", ".item-type")
	if title := p.text("#golden-title"); !strings.Contains(title, "Springfield General") || strings.Contains(title, id) {
		t.Errorf("Linkage title %q: want the Location's name, not the id", title)
	}
	types := p.doc.Find(".item-type").Text()
	if !strings.Contains(types, "source") || !strings.Contains(types, "alternate") {
		t.Errorf("Linkage item types %q", types)
	}
	b.get("/linkage/nope").must(t, http.StatusNotFound, "#error")
	b.get("/person/nope").must(t, http.StatusNotFound, "#error")

	b.get("/search").must(t, http.StatusOK, "#search-form")
	p = b.get("/search?name=wisniewska").must(t, http.StatusOK, `.results[data-type="Patient"] tr.hit a.golden`)
	if n := p.doc.Find(`.results[data-type="Patient"] tr.hit`).Length(); n != 2 {
		t.Errorf("name search hits %d, want 2", n)
	}
	href, _ := p.doc.Find("a.golden").Attr("href")
	b.get(href).must(t, http.StatusOK, "#golden-title")
	p = b.get("/search?birthdate=1971-03-09").must(t, http.StatusOK, "tr.hit")
	if !strings.Contains(p.doc.Find(".muted.small").Text(), "Practitioner") {
		t.Errorf("types without a birth date are not named as skipped")
	}
	b.get("/search?identifier=1234567893&type=Location").must(t, http.StatusOK, `.results[data-type="Location"] tr.hit`)
	b.get("/search?birthdate=not-a-date").must(t, http.StatusBadRequest, "#search-error")
	b.get("/search?name=x&type=Nope").must(t, http.StatusBadRequest, "#error")
}

func TestUIAdminPages(t *testing.T) {
	e := newUIEnv(t, true)
	steward := e.browser()
	steward.login("ann")
	if steward.get("/").doc.Find(`a[href="/admin/clients"]`).Length() != 0 {
		t.Error("a steward sees the admin navigation")
	}
	for _, path := range []string{"/audit", "/admin/clients", "/admin/policy"} {
		steward.get(path).must(t, http.StatusForbidden, "#error")
	}
	steward.post("/admin/clients", url.Values{"name": {"x"}, "role": {"reader"}}).must(t, http.StatusForbidden, "#error")
	steward.post("/admin/policy/add", url.Values{"line": {"p, role:steward, *, *, admin, allow"}}).must(t, http.StatusForbidden, "#error")

	admin := e.browser()
	admin.login("root")
	// The audit log: the linker's decisions, sign-ins, and the steward's
	// refused visits to admin pages.
	p := admin.get("/audit").must(t, http.StatusOK, "#audit-filters", "#audit tr.event")
	log := p.doc.Find("#audit").Text()
	for _, want := range []string{"link", "login", "root", "denied", "ann"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
	// Readable timestamps, at most 50 rows, and columns that wrap to fit.
	if when := p.doc.Find("#audit tr.event td.when").First().Text(); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(when) {
		t.Errorf("audit timestamp %q, want 2026-12-06 22:05:13 UTC", when)
	}
	if n := p.doc.Find("#audit tr.event").Length(); n > 50 {
		t.Errorf("%d audit rows on a page, want at most 50", n)
	}
	if p.doc.Find("#audit colgroup col.when").Length() != 1 {
		t.Error("the audit table has no fixed column widths")
	}
	p = admin.get("/audit?agent=ann&action=denied").must(t, http.StatusOK, "#audit tr.event")
	if strings.Contains(p.doc.Find("#audit").Text(), "root") {
		t.Errorf("agent filter kept others' events")
	}
	admin.get("/audit?agent=nobody-at-all").must(t, http.StatusOK, "#audit-empty")
	admin.get("/admin/clients").must(t, http.StatusOK, "#clients", "#add-client")
	// Add: the token is shown once, in the answer to the POST.
	p = admin.post("/admin/clients", url.Values{"name": {"ehr-main"}, "system": {"https://ehr.example.org"}, "role": {"source", "reader"}, "domains": {"urn:oid:1.2.3, urn:oid:1.2.4"}, "expires": {"2030-01-31"}}).
		must(t, http.StatusOK, "#token", `#clients tr.client[data-name="ehr-main"]`)
	if p.text("#token") != "idem_secret_ehr-main" {
		t.Errorf("token shown %q", p.text("#token"))
	}
	cs, _ := e.auth.Clients(context.Background())
	c := cs[0]
	if len(c.Roles) != 2 || len(c.Domains) != 2 || c.Expires.Year() != 2030 {
		t.Errorf("client stored as %+v", c)
	}
	if admin.get("/admin/clients").doc.Find("#token").Length() != 0 {
		t.Error("the token is shown again")
	}
	admin.post("/admin/clients", url.Values{"name": {"ehr-main"}, "role": {"reader"}}).must(t, http.StatusConflict, "#client-error")
	admin.post("/admin/clients", url.Values{"name": {"lab"}, "role": {"reader"}, "expires": {"soon"}}).must(t, http.StatusBadRequest, "#client-error")
	if p := admin.post("/admin/clients/revoke", url.Values{"name": {"ehr-main"}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	p = admin.get("/admin/clients").must(t, http.StatusOK, "#flash")
	if !strings.Contains(p.doc.Find(`tr.client[data-name="ehr-main"]`).Text(), "revoked") {
		t.Error("revoked client not shown as revoked")
	}
	// Policy: rules, add, remove, and the dry run.
	admin.get("/admin/policy").must(t, http.StatusOK, "#rules tr.rule.builtin", "#dry-run", "#add-rule")
	admin.post("/admin/policy/add", url.Values{"line": {"p, client:lab, *, *, match, deny"}})
	admin.get("/admin/policy").must(t, http.StatusOK, "#flash", "#rules button.remove")
	admin.post("/admin/policy/add", url.Values{"line": {"nonsense"}})
	if p := admin.get("/admin/policy"); !strings.Contains(p.text("#flash"), "not a policy line") {
		t.Errorf("bad rule message %q", p.text("#flash"))
	}
	admin.post("/admin/policy/remove", url.Values{"line": {"p, client:lab, *, *, match, deny"}})
	if n := admin.get("/admin/policy").doc.Find("#rules button.remove").Length(); n != 0 {
		t.Errorf("rule not removed (%d removable left)", n)
	}
	p = admin.get("/admin/policy?who=role:steward&action=link&type=Patient").must(t, http.StatusOK, "#decision")
	if !strings.HasPrefix(p.text("#decision"), "Allowed") {
		t.Errorf("dry run: %q", p.text("#decision"))
	}
	p = admin.get("/admin/policy?who=client:ehr-main&action=delete&type=Patient&domain=urn:oid:1.2.3").must(t, http.StatusOK, "#decision")
	if !strings.HasPrefix(p.text("#decision"), "Denied") {
		t.Errorf("dry run: %q", p.text("#decision"))
	}
	admin.get("/admin/policy?who=client:nobody&action=read&type=Patient").must(t, http.StatusBadRequest, ".error-box")
	// A rule from the form's fields, beside the dry run that checks it.
	p = admin.get("/admin/policy").must(t, http.StatusOK, ".policy-grid #add-rule select#rule-who", ".policy-grid #dry-run",
		`#add-rule select[name="effect"] option`, `#add-rule details.advanced input[name="line"]`)
	admin.post("/admin/policy/add", url.Values{"who": {"role:steward"}, "type": {"Patient"}, "domain": {""}, "action": {"link"}, "effect": {"deny"}})
	p = admin.get("/admin/policy").must(t, http.StatusOK, "#flash")
	if !strings.Contains(p.text("#rules"), "p, role:steward, Patient, *, link, deny") {
		t.Errorf("the form's rule is not among the rules:\n%s", p.text("#rules"))
	}
	admin.post("/admin/policy/add", url.Values{"who": {"nobody"}, "type": {"Patient"}, "action": {"link"}, "effect": {"allow"}})
	if p := admin.get("/admin/policy"); !strings.Contains(p.text("#flash"), "role:NAME or client:NAME") {
		t.Errorf("bad form rule message %q", p.text("#flash"))
	}
}

func TestAgreement(t *testing.T) {
	for _, tc := range []struct {
		mine, theirs []string
		partial      bool
		want         string
	}{
		{[]string{"phone: 857-200-3590"}, []string{"phone: (857) 200-3590"}, false, "cell-agree"},
		{[]string{"Amanda S O'Kinnon"}, []string{"Amanda Stanmore"}, true, "cell-partial"},
		{[]string{"Amanda S O'Kinnon"}, []string{"Amanda Stanmore"}, false, "cell-disagree"},
		{[]string{"1971"}, []string{"1971-03-09"}, true, "cell-partial"},
		{nil, []string{"x"}, true, "cell-missing"},
		{[]string{"503 Main Lane, Boston"}, []string{"9 Elm St, Salem"}, true, "cell-disagree"},
	} {
		if got := agreement(tc.mine, tc.theirs, tc.partial); got != tc.want {
			t.Errorf("agreement(%q, %q, %v) = %s, want %s", tc.mine, tc.theirs, tc.partial, got, tc.want)
		}
	}
}
