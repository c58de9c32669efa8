package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// The exchange pages in a real headless Chromium, as an admin uses them: a
// subscription whose receiver is down shows its error and pending events,
// delivers them once the receiver is back, and resends from an event
// number; a peer shows its health and pull history, and "sync now" pulls
// it with the counts on the page. No secret reaches any page.
func TestBrowserExchangePages(t *testing.T) {
	run, _ := chrome(t)
	rcv := newReceiver(t)
	edit := func(c *Config) {
		c.OutboundAllow = "127.0.0.1"
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 300*time.Millisecond
	}
	a, b := startWith(t, sqltest.DSN(t, "sqlite"), edit), startWith(t, sqltest.DSN(t, "sqlite"), edit)
	for _, fam := range []string{"Browsed", "Clicked", "Synced"} {
		b.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://b.example/mrn","value":"`+fam+`"}],"name":[{"family":"`+fam+`"}]}`)
	}
	a.addClient(`{"name":"peer-b","system":"http://b.example","roles":["source"]}`)
	ep := a.do("POST", "/Endpoint", endpointJSON(b.base, "peer-b", "http://b.example", testAdminToken, "3600", "Patient")).json(t)["id"].(string)
	// The first pull (a new Endpoint is pulled at once) ends before the
	// subscription starts, so its five events are the creates below.
	waitFor(t, "the first pull", 20*time.Second, func() bool {
		return strings.Contains(string(a.do("GET", "/Patient?identifier=http://b.example/mrn|", "").body), `"total":3`)
	})
	rcv.down.Store(true)
	sub := a.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", rcv.URL, "id-only")).json(t)["id"].(string)
	for i := 0; i < 5; i++ {
		a.do("POST", "/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Pending%d"}]}`, i))
	}
	waitFor(t, "failed deliveries", 20*time.Second, func() bool { return rcv.calls.Load() > 3 })

	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return strings.TrimSpace(s)
	}
	// until reloads the page until cond holds on it.
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; page: %.1500s", what, text("main"))
			}
			time.Sleep(200 * time.Millisecond)
			run("reload", chromedp.Reload(), chromedp.WaitVisible("main", chromedp.ByQuery))
		}
	}
	noSecrets := func() {
		t.Helper()
		var html string
		run("page source", chromedp.OuterHTML("html", &html, chromedp.ByQuery))
		for _, secret := range []string{testAdminToken, "receiver-secret"} {
			if strings.Contains(html, secret) {
				t.Fatalf("a secret (%s) is on the page", secret)
			}
		}
	}
	base := a.URL()
	run("sign in",
		chromedp.Navigate(base+"/admin/subscriptions"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#login-user", "admin", chromedp.ByQuery),
		chromedp.SendKeys("#login-password", testAdminPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#subscriptions", chromedp.ByQuery))
	row := `tr.subscription[data-id="` + sub + `"]`
	if st, pending := text(row+" .status"), text(row+" .pending"); st != "error" || pending != "5" {
		t.Fatalf("subscription row while the receiver is down: status %q, pending %q", st, pending)
	}
	noSecrets()
	run("open the subscription", chromedp.Click(row+" a", chromedp.ByQuery), chromedp.WaitVisible("#delivery", chromedp.ByQuery))
	if e := text("#last-error"); !strings.Contains(e, "503") {
		t.Fatalf("last error: %q", e)
	}
	if n := text("#pending"); n != "5" {
		t.Fatalf("pending: %q", n)
	}
	rcv.down.Store(false)
	until("every event delivered", func() bool { return text("#delivered") == "5" && text("#pending") == "0" })
	run("resend from 2",
		chromedp.SetValue(`#resend input[name="from"]`, "2", chromedp.ByQuery),
		chromedp.Click(`#resend button`, chromedp.ByQuery),
		chromedp.WaitVisible("#flash", chromedp.ByQuery))
	if f := text("#flash"); !strings.Contains(f, "from number 2") {
		t.Fatalf("flash after resend: %q", f)
	}
	waitFor(t, "events 2 to 5 sent again", 20*time.Second, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.seen[1] == 1 && rcv.seen[2] == 2 && rcv.seen[5] == 2
	})
	run("resend from a number not yet numbered",
		chromedp.SetAttributeValue(`#resend input[name="from"]`, "min", "0", chromedp.ByQuery),
		chromedp.SetValue(`#resend input[name="from"]`, "99", chromedp.ByQuery),
		chromedp.Click(`#resend button`, chromedp.ByQuery),
		chromedp.WaitVisible("#flash.error", chromedp.ByQuery))
	noSecrets()

	// Peers: health, credentials named but not shown, sync now.
	run("peers", chromedp.Navigate(base+"/admin/peers"), chromedp.WaitVisible("#peers", chromedp.ByQuery))
	prow := `tr.peer[data-id="` + ep + `"]`
	run("open the peer", chromedp.Click(prow+" a", chromedp.ByQuery), chromedp.WaitVisible("#health", chromedp.ByQuery))
	if auth := text("#auth"); auth != "bearer token (secret set)" {
		t.Fatalf("credentials shown as %q", auth)
	}
	until("the first pull", func() bool { return text("#pulled") == "3" && strings.Contains(text("#runs"), "done") })
	noSecrets()
	b.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://b.example/mrn","value":"Fourth"}],"name":[{"family":"Fourth"}]}`)
	run("sync now", chromedp.Click("#sync-now button", chromedp.ByQuery), chromedp.WaitVisible("#flash", chromedp.ByQuery))
	until("the pull sync now asked for", func() bool {
		return text("#pulled") == "4" && text("#runs tr.run:first-child .created") == "1" && text("#runs tr.run:first-child .run-state") == "done"
	})
	if st := text("#health .status"); st != "active" {
		t.Fatalf("peer status %q", st)
	}
}
