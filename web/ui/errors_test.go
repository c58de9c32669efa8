package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// One error path: the same registry error becomes the HTML error page on
// a page and an OperationOutcome under /fhir, with the same status and
// message; bad input on a page is a 4xx page, never a 500.
func TestUIOneErrorPath(t *testing.T) {
	e := newUIEnv(t, true)
	b := e.browser()
	b.login("ann")
	p := b.get("/reconcile/no-such-id").must(t, http.StatusNotFound, "#error")
	if !strings.Contains(p.text("#error"), "no held write no-such-id") {
		t.Errorf("error page says %q", p.text("#error"))
	}
	req := httptest.NewRequest(http.MethodGet, "/fhir/$held/no-such-id", nil)
	req.Header.Set("Authorization", "Bearer ann-pw")
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var oo struct {
		ResourceType string
		Issue        []struct{ Diagnostics string }
	}
	if err := json.Unmarshal(body, &oo); err != nil || resp.StatusCode != http.StatusNotFound || oo.ResourceType != "OperationOutcome" ||
		len(oo.Issue) == 0 || !strings.Contains(oo.Issue[0].Diagnostics, "no held write no-such-id") {
		t.Errorf("API: %d %s", resp.StatusCode, body)
	}

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/reconcile?status=bogus", http.StatusBadRequest},
		{http.MethodGet, "/reconcile?kind=bogus", http.StatusBadRequest},
		{http.MethodPost, "/reconcile/no-such-id/accept", http.StatusNotFound},
		{http.MethodPost, "/reconcile/no-such-id/reject", http.StatusNotFound}, // no reason, and no item to show the form again
		{http.MethodGet, "/person/no-such-person", http.StatusNotFound},
	} {
		var p *page
		if c.method == http.MethodPost {
			p = b.post(c.path, map[string][]string{"reason": nil})
		} else {
			p = b.get(c.path)
		}
		p.must(t, c.want, "#error")
	}
	b.get("/reconcile").must(t, http.StatusOK, "#held-empty") // no held writes on this server
}
