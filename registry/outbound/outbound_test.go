package outbound

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	a, err := Parse(" peer.example.org , 127.0.0.1:8443,[::1]:9000, LAB.example ")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://peer.example.org/fhir", true},
		{"http://peer.example.org:8080/fhir", true},
		{"https://lab.example/fhir", true},
		{"https://127.0.0.1:8443/x", true},
		{"https://127.0.0.1/x", false},
		{"http://[::1]:9000/x", true},
		{"http://[::1]:9001/x", false},
		{"ftp://peer.example.org/x", false},
		{"file:///etc/passwd", false},
		{"https://user:pw@peer.example.org/", false},
		{"https://evil.example/", false},
		{"https://peer.example.org.evil.example/", false},
		{"/relative", false},
		{"%zz", false},
	} {
		if err := a.Check(c.url); (err == nil) != c.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
	empty, _ := Parse("")
	if !empty.Empty() || empty.Check("http://127.0.0.1/") == nil {
		t.Error("an empty list must allow nothing")
	}
	for _, bad := range []string{"http://x", "a/b", "*.example", ":80", "u@h"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// A redirect to a host that is not allowed is not followed.
func TestClientRedirect(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer other.Close()
	otherHost := strings.TrimPrefix(other.URL, "http://")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+otherHost[strings.LastIndex(otherHost, ":")+1:]+"/", http.StatusFound)
	}))
	defer origin.Close()
	a, _ := Parse(strings.TrimPrefix(origin.URL, "http://") + "," + otherHost)
	c := a.Client(5 * time.Second)
	if _, err := c.Get(origin.URL); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("redirect to localhost (not allowed) followed: %v", err)
	}
	if resp, err := c.Get(other.URL); err != nil || resp.StatusCode != 204 {
		t.Fatalf("allowed host: %v", err)
	}
	if _, err := c.Get("http://localhost:1/"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("not allowed host called: %v", err)
	}
}
