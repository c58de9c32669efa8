// Package outbound is the one gate for every HTTP call idem makes to another
// server: subscription endpoints, peers' FHIR bases, import URLs. A call
// leaves only for a host the operator allowed (IDEM_OUTBOUND_ALLOW), over
// http or https, and a redirect is followed only to an allowed host too. A
// fresh install allows nobody.
package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNotAllowed is returned (wrapped) for a call to a URL outside the allow-list.
var ErrNotAllowed = errors.New("outbound call not allowed")

// Allow is a parsed allow-list: hosts (any port) and host:port pairs.
// The zero value allows nothing.
type Allow struct {
	hosts map[string]bool // "host" (any port) or "host:port"
}

// Parse reads a comma-separated list of host or host:port entries. Hosts
// compare case-insensitively; an IPv6 address is written in brackets with a
// port ("[::1]:8080") or bare without one.
func Parse(list string) (*Allow, error) {
	a := &Allow{hosts: map[string]bool{}}
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") || strings.Contains(e, "@") || strings.Contains(e, "*") {
			return nil, fmt.Errorf("IDEM_OUTBOUND_ALLOW: %q is not a host or host:port", e)
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if h == "" || p == "" {
				return nil, fmt.Errorf("IDEM_OUTBOUND_ALLOW: %q is not a host or host:port", e)
			}
			a.hosts[net.JoinHostPort(h, p)] = true
			continue
		}
		a.hosts[strings.Trim(e, "[]")] = true
	}
	return a, nil
}

// Check returns nil when a call to raw may be made: an absolute http or
// https URL without user info whose host (or host:port) is allowed.
func (a *Allow) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q is not a URL", ErrNotAllowed, raw)
	}
	return a.CheckURL(u)
}

// CheckURL is Check for a parsed URL.
func (a *Allow) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q (only http and https)", ErrNotAllowed, u.Scheme)
	}
	if u.User != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: %s has no plain host", ErrNotAllowed, u.Redacted())
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if a != nil && (a.hosts[host] || a.hosts[net.JoinHostPort(host, port)]) {
		return nil
	}
	return fmt.Errorf("%w: %s is not in IDEM_OUTBOUND_ALLOW", ErrNotAllowed, net.JoinHostPort(host, port))
}

// Empty reports whether the list allows nothing.
func (a *Allow) Empty() bool { return a == nil || len(a.hosts) == 0 }

// Client returns an HTTP client whose every request, redirects included,
// passes Check before a connection is made. Environment proxies are not
// used: the allow-list names the servers idem talks to directly.
func (a *Allow) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: gate{a: a, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return fmt.Errorf("%w: more than 5 redirects", ErrNotAllowed)
			}
			return a.CheckURL(req.URL)
		},
	}
}

// gate checks every request the client sends, so no path around the
// allow-list exists even for a request built by hand.
type gate struct {
	a    *Allow
	next http.RoundTripper
}

func (g gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.a.CheckURL(req.URL); err != nil {
		return nil, err
	}
	return g.next.RoundTrip(req)
}
