package app

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"idem/registry/sqlstore/sqltest"
)

// chrome is a headless Chromium for a browser test: run runs actions in
// it and fails the test with the page's text when one fails; ctx is its
// context, for actions whose failure is expected (a page navigating away).
func chrome(t *testing.T) (run func(what string, actions ...chromedp.Action), ctx context.Context) {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium binary found (install Debian's chromium package to run the browser tests)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1360, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var cancelCtx context.CancelFunc
	ctx, cancelCtx = chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	run = func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc, body string
			chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %v\nat %s:\n%.2000s", what, err, loc, body)
		}
	}
	return run, ctx
}

// The reconciliation queue in a real headless Chromium, as a steward uses
// it: gp's Patients wait for review; the queue lists them; an item shows
// the incoming record beside the similar record the registry holds; a
// broken edit is refused on the page with nothing stored; one is accepted
// as sent, one with the steward's edits, one rejected with a reason; the
// API and the audit trail agree.
func TestBrowserReconciliation(t *testing.T) {
	run, _ := chrome(t)
	s := startWith(t, sqltest.DSN(t, "sqlite"), pushEdit(func(c *Config) { c.Unsolicited = "gp:Patient=review" }))
	gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
	if r := s.do("POST", "/Patient", ehrPatient("http://ehr.example/mrn", "held-77", "Revue")); r.status != 201 {
		t.Fatalf("stored Patient: %d %s", r.status, r.body)
	}
	push := func(v, family string) string {
		t.Helper()
		r := s.do("POST", "/Patient", `{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/`+v+`"},`+
			`"identifier":[{"system":"http://gp.example/mrn","value":"`+v+`"}],"name":[{"family":"`+family+`","given":["Ann"]}],"birthDate":"1980-01-02"}`, bearer(gp)...)
		if r.status != 202 {
			t.Fatalf("push %s: %d %s", v, r.status, r.body)
		}
		return path.Base(r.header.Get("Content-Location"))
	}
	asSent, edited, rejected := push("r1", "Sent"), push("r2", "Revue"), push("r3", "Rejecta")

	base := s.URL()
	var text string
	run("sign in",
		chromedp.Navigate(base+"/reconcile"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#login-user", "admin", chromedp.ByQuery),
		chromedp.SendKeys("#login-password", testAdminPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#held", chromedp.ByQuery),
		chromedp.Text("#held", &text, chromedp.ByQuery))
	for _, want := range []string{"Sent", "Revue", "Rejecta", "gp", "gp:Patient=review"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the queue lacks %q:\n%s", want, text)
		}
	}
	row := func(id string) string { return `#held tr.held-item[data-id="` + id + `"] a.held-link` }

	// The item: incoming beside the similar stored record, field by field.
	run("open the item to edit",
		chromedp.Click(row(edited), chromedp.ByQuery),
		chromedp.WaitVisible("#held-diff", chromedp.ByQuery),
		chromedp.Text("#held-diff", &text, chromedp.ByQuery))
	for _, want := range []string{"incoming", "similar record", "certain", "revue", "http://gp.example/fhir", "held-77"} {
		if !strings.Contains(strings.ToLower(text), want) { // headings are upper case by CSS
			t.Fatalf("the field diff lacks %q:\n%s", want, text)
		}
	}
	var class string
	run("name agrees", chromedp.AttributeValue(`#held-diff tr[data-field="Name"] td:nth-of-type(2)`, "class", &class, nil, chromedp.ByQuery))
	if class != "cell-agree" {
		t.Errorf("the stored record's name is classed %q", class)
	}
	// A broken edit is refused on the page, what was typed kept.
	run("accept a broken edit",
		chromedp.SetValue("#edit-resource", `{"resourceType":"Patient",`, chromedp.ByQuery),
		chromedp.Click("#act-accept-edited", chromedp.ByQuery),
		chromedp.WaitVisible("#decision-error", chromedp.ByQuery),
		chromedp.Value("#edit-resource", &text, chromedp.ByQuery))
	if text != `{"resourceType":"Patient",` {
		t.Errorf("the edit box after a refusal holds %q", text)
	}
	run("status still pending", chromedp.Text("#status", &text, chromedp.ByQuery))
	if text != "pending" {
		t.Fatalf("after a broken edit the status is %q", text)
	}
	run("accept with edits",
		chromedp.SetValue("#edit-resource", `{"resourceType":"Patient","identifier":[{"system":"http://gp.example/mrn","value":"r2"}],"name":[{"family":"Review","given":["Ann"]}],"birthDate":"1980-01-02"}`, chromedp.ByQuery),
		chromedp.Click("#act-accept-edited", chromedp.ByQuery),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Text("#flash", &text, chromedp.ByQuery))
	if !strings.Contains(text, "Accepted: stored as Patient/") {
		t.Fatalf("after accepting with edits: %q", text)
	}
	run("accept as sent",
		chromedp.Click(row(asSent), chromedp.ByQuery),
		chromedp.WaitVisible("#act-accept", chromedp.ByQuery),
		chromedp.Click("#act-accept", chromedp.ByQuery),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Text("#flash", &text, chromedp.ByQuery))
	if !strings.Contains(text, "Accepted: stored as Patient/") {
		t.Fatalf("after accepting: %q", text)
	}
	// A rejection needs a reason: without one (the browser's own check
	// removed) the page says so and nothing is decided.
	run("reject without a reason",
		chromedp.Click(row(rejected), chromedp.ByQuery),
		chromedp.WaitVisible("#reject-reason", chromedp.ByQuery),
		chromedp.RemoveAttribute("#reject-reason", "required", chromedp.ByQuery),
		chromedp.Click("#act-reject", chromedp.ByQuery),
		chromedp.WaitVisible("#decision-error", chromedp.ByQuery),
		chromedp.Text("#status", &text, chromedp.ByQuery))
	if text != "pending" {
		t.Fatalf("after a rejection without a reason the status is %q", text)
	}
	run("reject",
		chromedp.SendKeys("#reject-reason", "not one of our patients", chromedp.ByQuery),
		chromedp.Click("#act-reject", chromedp.ByQuery),
		chromedp.WaitVisible("#held-empty", chromedp.ByQuery), // nothing pending is left
		chromedp.Text("#flash", &text, chromedp.ByQuery))
	if !strings.Contains(text, "Rejected") || !strings.Contains(text, "not one of our patients") {
		t.Fatalf("after rejecting: %q", text)
	}
	run("decided items",
		chromedp.Navigate(base+"/reconcile/"+rejected),
		chromedp.WaitVisible("#decided-by", chromedp.ByQuery),
		chromedp.Text("#status", &text, chromedp.ByQuery))
	if text != "rejected" {
		t.Errorf("the rejected item's status is %q", text)
	}

	// The API agrees: the edited and the sent records are stored as gp's,
	// the rejected one is not, and each decision is audited.
	for v, want := range map[string]string{"r1": `"family":"Sent"`, "r2": `"family":"Review"`, "r3": `"total":0`} {
		got := string(s.do("GET", "/Patient?identifier=http://gp.example/mrn|"+v, "").body)
		if !strings.Contains(got, want) {
			t.Errorf("Patient %s: want %s in %s", v, want, got)
		}
	}
	if st := s.do("GET", "/$held/"+rejected, "", bearer(gp)...); st.status != 422 || !strings.Contains(string(st.body), "not one of our patients") {
		t.Errorf("the submitter sees the rejection as %d %s", st.status, st.body)
	}
	audit := compact(string(s.do("GET", "/AuditEvent?_count=200", "").body))
	for _, want := range []string{`"code":"held-accepted"`, `"code":"held-rejected"`, `not one of our patients`} {
		if !strings.Contains(audit, want) {
			t.Errorf("no AuditEvent with %s", want)
		}
	}
}
