package policy

import (
	"slices"
	"strings"
)

// CanonicalDomain returns the form in which identifier systems (domains)
// are compared, so that a domain cannot be claimed or used under another
// spelling of its URI: surrounding space and trailing slashes dropped; the
// scheme and host of a URL in lower case, https read as http and a default
// port dropped; the scheme and namespace of a URN in lower case (all of a
// urn:uuid); a bare OID ("1.2.3") read as urn:oid:1.2.3. Paths and URN
// specifics keep their case: they are case-sensitive.
func CanonicalDomain(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if isOID(s) {
		return "urn:oid:" + s
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		return canonicalURL(strings.ToLower(scheme), rest)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	scheme = strings.ToLower(scheme)
	if scheme != "urn" {
		return scheme + ":" + rest
	}
	nid, nss, _ := strings.Cut(rest, ":")
	nid = strings.ToLower(nid)
	if nid == "uuid" {
		nss = strings.ToLower(nss)
	}
	return "urn:" + nid + ":" + nss
}

func canonicalURL(scheme, rest string) string {
	if scheme == "https" {
		scheme = "http"
	}
	host, path, hasPath := strings.Cut(rest, "/")
	host = strings.ToLower(host)
	host = strings.TrimSuffix(strings.TrimSuffix(host, ":80"), ":443")
	if !hasPath {
		return scheme + "://" + host
	}
	return scheme + "://" + host + "/" + path
}

// isOID reports whether s is a dotted OID such as 1.2.840.113619.
func isOID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.' {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}

// canonicalDomains returns the distinct canonical forms of domains.
func canonicalDomains(domains []string) []string {
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		if c := CanonicalDomain(d); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
