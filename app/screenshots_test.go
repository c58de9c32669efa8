package app

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// TestScreenshots makes the README's screenshots in a real headless
// Chromium against a server with a seeded network, a held submission, a
// subscription and a peer (and trains a model on the Models page). It runs only when asked, with the directory to
// write into (relative to the repository root):
//
//	IDEM_SCREENSHOTS=docs go test ./app -run Screenshots
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("IDEM_SCREENSHOTS")
	if dir == "" {
		t.Skip("set IDEM_SCREENSHOTS=docs to make the README's screenshots")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // go test runs in app/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run, _ := chrome(t)
	rcv := newReceiver(t)
	inst := startSeededWith(t, 400, func(c *Config) {
		c.AdminToken = testAdminToken
		c.Unsolicited = "gp:Patient=review"
		c.OutboundAllow = "127.0.0.1"
		c.HeldPoll = 20 * time.Millisecond
	})
	s := &testServer{Instance: inst, t: t, base: inst.URL() + "/fhir"}
	peer := startWith(t, sqltest.DSN(t, "sqlite"), nil)
	for _, fam := range []string{"Okafor", "Lindqvist", "Moreau"} {
		peer.do("POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://clinic.example/mrn","value":"`+fam+`"}],"name":[{"family":"`+fam+`","given":["Ada"]}],"birthDate":"1975-04-01"}`)
	}
	s.addClient(`{"name":"clinic","system":"http://clinic.example","roles":["source"]}`)
	s.do("POST", "/Endpoint", endpointJSON(peer.base, "clinic", "http://clinic.example", testAdminToken, "3600", "Patient"))
	s.do("POST", "/Subscription", subscriptionJSON(exchange.TopicBase+"patient-create", rcv.URL, "id-only"))
	gp := s.addClient(`{"name":"gp","system":"http://gp.example/fhir","roles":["source"],"domains":["http://gp.example/mrn"]}`)
	held := s.do("POST", "/Patient", `{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/g1"},`+
		`"identifier":[{"system":"http://gp.example/mrn","value":"g1"}],"name":[{"family":"Okafor","given":["Ada"]}],"birthDate":"1975-04-01",`+
		`"telecom":[{"system":"phone","value":"555-301-2200"}]}`, bearer(gp)...)
	if held.status != 202 {
		t.Fatalf("held Patient: %d %s", held.status, held.body)
	}
	waitFor(t, "the peer's first pull", 20*time.Second, func() bool {
		return strings.Contains(string(s.do("GET", "/Patient?identifier=http://clinic.example/mrn|", "").body), `"total":3`)
	})

	shot := func(name, url, ready string, then ...chromedp.Action) {
		t.Helper()
		var png []byte
		actions := append([]chromedp.Action{chromedp.Navigate(inst.URL() + url), chromedp.WaitVisible(ready, chromedp.ByQuery)}, then...)
		run(name, append(actions, chromedp.FullScreenshot(&png, 100))...) // quality 100: PNG (below, JPEG)
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("sign in",
		chromedp.Navigate(inst.URL()+"/login"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#login-user", "admin", chromedp.ByQuery),
		chromedp.SendKeys("#login-password", browserAdminPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("svg#histogram", chromedp.ByQuery))
	shot("dashboard", "/", "svg#histogram")
	shot("queue", "/review?type=Patient&sort=score", "#queue tr.item")
	var golden string
	shot("compare", "/review?type=Patient&sort=score", "#queue tr.item",
		chromedp.Click("#queue tr.item a.compare-link", chromedp.ByQuery),
		chromedp.WaitVisible("#evidence", chromedp.ByQuery),
		chromedp.Value(`#decide input[name="golden"]`, &golden, chromedp.ByQuery))
	shot("person", "/person/"+path.Base(golden), "#members")
	shot("reconciliation", "/reconcile", "#held")
	shot("reconciliation-item", "/reconcile/"+path.Base(held.header.Get("Content-Location")), "#held-diff")
	shot("subscriptions", "/admin/subscriptions", "#subscriptions")
	shot("peers", "/admin/peers", "#peers")
	// Models: a Patient model trained on the network, then dry-run (each a
	// job: its page shows the result with a link to the model).
	shot("models", "/admin/models", "#train-form",
		chromedp.Click("#train", chromedp.ByQuery),
		chromedp.WaitVisible(`#model-job[data-status="done"] #model-link`, chromedp.ByQuery),
		chromedp.Click("#model-link", chromedp.ByQuery),
		chromedp.WaitVisible("#models tr.model button.dry-run", chromedp.ByQuery),
		chromedp.Click("#models tr.model button.dry-run", chromedp.ByQuery),
		chromedp.WaitVisible(`#model-job[data-status="done"] #model-link`, chromedp.ByQuery),
		chromedp.Click("#model-link", chromedp.ByQuery),
		chromedp.WaitVisible("#model-detail .rematch-summary", chromedp.ByQuery))
}
