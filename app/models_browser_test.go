package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The Models page in a real headless Chromium, as an admin uses it: train
// a Patient candidate (its EM per blocking rule shown), dry-run it (counts
// by kind), apply it (in use) and roll back (the configured rules in use
// again), each a form posted with the session's CSRF token that queues a
// job and redirects to the job's page, which refreshes itself until the
// job is done and then shows its result; apply and rollback are audited.
func TestBrowserModelsPage(t *testing.T) {
	run, ctx := chrome(t)
	s := startWithPatients(t, 150)
	text := func(sel string) string {
		t.Helper()
		var v string
		run("read "+sel, chromedp.Text(sel, &v, chromedp.ByQuery))
		return strings.TrimSpace(v)
	}
	run("sign in",
		chromedp.Navigate(s.URL()+"/admin/models"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#login-user", "admin", chromedp.ByQuery),
		chromedp.SendKeys("#login-password", testAdminPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#no-models", chromedp.ByQuery))
	run("the menu links the page", chromedp.WaitVisible(`nav a.active[href="/admin/models"]`, chromedp.ByQuery))

	// Each form queues a job and redirects to its page, which refreshes
	// itself until the job is done: wait until the JavaScript expression
	// holds on the page that follows (an evaluation cut short by a
	// navigation is tried again).
	waitFor := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var ok bool
			if err := chromedp.Run(ctx, chromedp.Evaluate(expr, &ok)); err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				var page string
				_ = chromedp.Run(ctx, chromedp.Evaluate(`document.body ? document.body.innerText : ''`, &page))
				t.Fatalf("%s: %s never held; the page says %.500q", what, expr, page)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// jobDone waits for the model job page of op to show the job done, and
	// returns its result text.
	jobDone := func(op string) string {
		t.Helper()
		waitFor(op+" job", fmt.Sprintf(`!!document.querySelector('#model-job[data-op=%q][data-status="done"] #result')`, op))
		return text("#result")
	}
	openModel := func() {
		t.Helper()
		run("open the model", chromedp.Click("#model-link", chromedp.ByQuery), chromedp.WaitVisible("#model-detail", chromedp.ByQuery))
	}

	run("train", chromedp.SetValue("#train-type", "Patient", chromedp.ByQuery), chromedp.Click("#train", chromedp.ByQuery))
	if r := jobDone("train"); !strings.Contains(r, "a candidate") {
		t.Fatalf("after training: %q", r)
	}
	openModel()
	run("training report", chromedp.WaitVisible("#training-rules tr.training-rule", chromedp.ByQuery))
	if jobs := text("#model-jobs"); !strings.Contains(jobs, "train") || !strings.Contains(jobs, "done") {
		t.Fatalf("the Models page's jobs: %q", jobs)
	}
	var version string
	run("candidate row", chromedp.AttributeValue("#models tr.model", "data-version", &version, nil, chromedp.ByQuery))
	if st := text(`#models tr.model[data-version="` + version + `"] .state`); st != "candidate" {
		t.Fatalf("trained model's state %q", st)
	}
	if rules := text("#training-rules"); !strings.Contains(rules, "family-phonetic+birth-year") {
		t.Fatalf("training rules table: %q", rules)
	}

	row := `#models tr.model[data-version="` + version + `"]`
	run("dry run", chromedp.Click(row+" button.dry-run", chromedp.ByQuery))
	if r := jobDone("dry-run"); !strings.Contains(r, "Dry run of model "+version) || !strings.Contains(r, "Nothing was applied") {
		t.Fatalf("after the dry run: %q", r)
	}
	run("dry run counts", chromedp.WaitVisible("#rematch-Patient", chromedp.ByQuery))
	openModel()
	if !strings.Contains(text("#model-detail"), "Dry run: Patient") {
		t.Fatalf("dry run not shown: %q", text("#model-detail"))
	}
	counts := text("#model-detail .rematch-counts")
	changed := text("#rematch-Patient .changed")
	t.Logf("dry run: %s records change; counts %q", changed, counts)
	// A change that only drops a review item carries no evidence (the
	// re-match scored no link for it); every other kind does.
	onlyDropped := text("#model-detail .count-from-review") == changed
	for _, kind := range []string{"new-link", "moved", "unlinked", "to-review"} {
		onlyDropped = onlyDropped && text("#model-detail .count-"+kind) == "0"
	}
	if changed != "0" && !onlyDropped {
		var ev string
		run("sample evidence", chromedp.Evaluate(`[...document.querySelectorAll('#model-detail tr.sample .evidence')].map(e => e.innerText).join(' | ')`, &ev))
		if !strings.Contains(ev, "exact") && !strings.Contains(ev, "different") {
			t.Fatalf("no sample change with evidence: %q", ev)
		}
	}
	if s.do("GET", "/AuditEvent?subtype=model-apply", "").json(t)["total"] != 0.0 {
		t.Fatal("a dry run was audited as an apply")
	}

	run("apply", chromedp.Click(row+" button.apply", chromedp.ByQuery))
	if r := jobDone("apply"); !strings.Contains(r, "Model "+version+" applied") {
		t.Fatalf("after apply: %q", r)
	}
	openModel()
	if st := text(row + " .in-use"); st != "in use" {
		t.Fatalf("applied model not in use: %q", text("#models"))
	}
	if !strings.Contains(text("#model-detail"), "Applied: Patient") {
		t.Fatalf("apply not shown: %q", text("#model-detail"))
	}

	run("roll back", chromedp.Click("#rollback", chromedp.ByQuery))
	if r := jobDone("rollback"); !strings.Contains(r, "Rolled back to model") {
		t.Fatalf("after rollback: %q", r)
	}
	openModel()
	var inUse string
	run("model in use", chromedp.AttributeValue("#models tr.model.current", "data-version", &inUse, nil, chromedp.ByQuery))
	if inUse == version {
		t.Fatal("the candidate is still in use after the rollback")
	}
	for _, kind := range []string{"model-apply", "model-rollback"} {
		if n := s.do("GET", "/AuditEvent?subtype="+kind, "").json(t)["total"]; n != 1.0 {
			t.Errorf("%v AuditEvents of %s, want 1", n, kind)
		}
	}
	run("a second rollback goes back to the candidate", chromedp.Click("#rollback", chromedp.ByQuery))
	jobDone("rollback")
	openModel()
	run("model in use", chromedp.AttributeValue("#models tr.model.current", "data-version", &inUse, nil, chromedp.ByQuery))
	if inUse != version {
		t.Fatalf("after a second rollback model %s is in use, want %s", inUse, version)
	}
}
