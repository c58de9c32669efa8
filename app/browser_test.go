package app

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"idem/registry"
	"idem/seed"
)

// The admin UI in a real headless Chromium, as a steward uses it: sign in,
// open the queue, compare, link with the keyboard, see the Person, undo,
// find the decision in the audit log. The README's screenshots are made by
// TestScreenshots.

// chromiumPath finds a Chromium (Debian's chromium package) or Chrome.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

const browserAdminPassword = "browser-test-pw-1"

// startSeeded starts idem on a fresh SQLite file holding a small seeded
// network (loaded through the normal write path, linking included) and
// the admin user.
func startSeeded(t *testing.T) *Instance { return startSeededWith(t, 250, nil) }

// startSeededWith is startSeeded with persons in the network and the
// configuration changed by edit (nil: none).
func startSeededWith(t *testing.T, persons int, edit func(*Config)) *Instance {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "idem.db")
	cfg.Seed = false
	cfg.AdminPassword = browserAdminPassword
	if edit != nil {
		edit(&cfg)
	}
	o, err := open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadNetwork(ctx, o.svc, seed.Config{Seed: 1, Persons: persons, Practitioners: persons / 12, Locations: persons / 25}, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	inst, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

func TestBrowserReviewFlow(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium binary found (install Debian's chromium package to run the browser tests)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	inst := startSeeded(t)
	base := inst.URL()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1360, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The undo forms ask for confirmation: accept it, as a steward would.
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc, body string
			chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %v\nat %s:\n%.2000s", what, err, loc, body)
		}
	}
	// Sign in: the dashboard comes first.
	var text string
	run("sign in",
		chromedp.Navigate(base+"/review"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#login-user", "admin", chromedp.ByQuery),
		chromedp.SendKeys("#login-password", browserAdminPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#queue-filters", chromedp.ByQuery), // back to the page asked for
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("svg#histogram", chromedp.ByQuery),
		chromedp.WaitVisible("#decisions #dec-review", chromedp.ByQuery), // the matcher's decisions, review among them
		chromedp.Text("#review-counts", &text, chromedp.ByQuery),
	)
	if !strings.Contains(text, "POSSIBLE_MATCH") {
		t.Fatalf("the seeded network left nothing to review:\n%s", text)
	}

	// The queue, best scores first, Patients only; open the first item.
	var source, golden string
	run("queue",
		chromedp.Navigate(base+"/review?type=Patient&sort=score"),
		chromedp.WaitVisible("#queue tr.item", chromedp.ByQuery),
	)
	run("compare",
		chromedp.Click("#queue tr.item a.compare-link", chromedp.ByQuery),
		chromedp.WaitVisible("#evidence", chromedp.ByQuery),
		chromedp.WaitVisible("#reason", chromedp.ByQuery), // why the item is in review
		chromedp.Value(`#decide input[name="source"]`, &source, chromedp.ByQuery),
		chromedp.Value(`#decide input[name="golden"]`, &golden, chromedp.ByQuery),
	)

	// Link with the keyboard shortcut (our own app.js): the next item or
	// the queue opens with a message offering undo.
	run("link with m",
		chromedp.KeyEvent("m"),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Text("#flash", &text, chromedp.ByQuery),
	)
	if !strings.Contains(text, "Linked "+source+" to "+golden) {
		t.Fatalf("after linking the message is %q", text)
	}

	// The Person holds the record now, linked MANUAL.
	g, err := registry.ParseRef(golden)
	if err != nil {
		t.Fatal(err)
	}
	id := g.ID
	run("person",
		chromedp.Navigate(base+"/person/"+id),
		chromedp.WaitVisible("#members", chromedp.ByQuery),
		chromedp.Text("#members", &text, chromedp.ByQuery),
	)
	if !strings.Contains(text, source) || !strings.Contains(text, "MANUAL") {
		t.Fatalf("the Person's records do not show %s as MANUAL:\n%s", source, text)
	}

	// Undo the decision from the Person's timeline.
	run("undo",
		chromedp.Click("#timeline li.decision button.undo", chromedp.ByQuery),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Text("#flash", &text, chromedp.ByQuery),
	)
	if !strings.Contains(text, "undone") {
		t.Fatalf("after undo the message is %q", text)
	}
	run("person after undo", chromedp.Text("#members", &text, chromedp.ByQuery))
	if strings.Contains(text, source) {
		t.Fatalf("after undo the Person still holds %s", source)
	}

	// The audit log has the link and its undo, by admin.
	run("audit",
		chromedp.Navigate(base+"/audit?agent=admin"),
		chromedp.WaitVisible("#audit tr.event", chromedp.ByQuery),
		chromedp.Text("#audit", &text, chromedp.ByQuery),
	)
	for _, want := range []string{"update-link", "undo", source, "login"} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit log lacks %q:\n%.3000s", want, text)
		}
	}
	// It fits the window: long values wrap instead of widening the page.
	var overflow bool
	run("audit width", chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow))
	if overflow {
		t.Error("the audit log is wider than the window")
	}
}
