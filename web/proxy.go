package web

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Which URL and which client address a request has. Request headers are
// the caller's to choose: Host, X-Forwarded-Host, X-Forwarded-Proto and
// X-Forwarded-For count only when the connection comes from a configured
// proxy (Config.TrustedProxies), and the token audience never follows them.

// ParseProxies parses a list of trusted proxies: IP addresses and CIDR
// ranges, e.g. "10.0.0.1, 192.168.0.0/16, ::1".
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR range", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trusted reports whether a is one of the configured proxies.
func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the address the connection comes from.
func peer(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

// clientIP is the address of the client a request comes from: the peer,
// or behind trusted proxies the nearest address in X-Forwarded-For that is
// not one of them (read from the right: the left is what the client said).
func (s *Server) clientIP(c *fiber.Ctx) string {
	ip := peer(c)
	if !s.trusted(ip) {
		return ip.String()
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop we cannot read: stop at the last one we could
		}
		ip = a.Unmap()
		if !s.trusted(ip) {
			break
		}
	}
	return ip.String()
}

// root is the public root URL of the server (no trailing slash, no /fhir):
// the configured base URL's, or, behind a trusted proxy that names it in
// X-Forwarded-Host, the proxy's; otherwise the address the connection
// reached (the listen address), never the Host header.
func (s *Server) root(c *fiber.Ctx) string {
	if s.cfg.BaseURL != "" {
		return configuredRoot(s.cfg.BaseURL)
	}
	if s.trusted(peer(c)) {
		if host := c.Get(fiber.HeaderXForwardedHost); validHost(host) {
			proto := "http"
			if c.Get(fiber.HeaderXForwardedProto) == "https" {
				proto = "https"
			}
			return proto + "://" + host
		}
	}
	return s.listenRoot(c)
}

// listenRoot is the URL of the address the connection reached.
func (s *Server) listenRoot(c *fiber.Ctx) string {
	return "http://" + c.Context().LocalAddr().String()
}

// tokenRoot is the root of the token endpoint an assertion's aud must
// name: the configured base URL's, or the listen address — never a URL a
// request header chose.
func (s *Server) tokenRoot(c *fiber.Ctx) string {
	if s.cfg.BaseURL != "" {
		return configuredRoot(s.cfg.BaseURL)
	}
	return s.listenRoot(c)
}

func configuredRoot(base string) string {
	return strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/fhir")
}

// validHost reports whether h is a plain host[:port] a URL can be built
// from (no path, user info, spaces or other characters a header could
// smuggle in).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return false
		}
	}
	return true
}
