package web

import (
	"net/url"
	"testing"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

func TestAcceptsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/fhir+json":                  true,
		"application/json;q=0.9":                 true,
		"*/*":                                    true,
		"application/fhir+xml, application/json": true,
		"application/fhir+xml":                   false,
		"text/html":                              false,
		"application/fhir+json;q=0, application/xml": false,
		"application/*": true,
	} {
		if got := acceptsJSON(accept); got != want {
			t.Errorf("acceptsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	for f, want := range map[string]bool{
		"json": true, "application/fhir+json": true, "application/json": true,
		"application/fhir+json; fhirVersion=4.0": true, "xml": false, "application/fhir+xml": false, "ttl": false,
	} {
		if got := jsonFormat(f); got != want {
			t.Errorf("jsonFormat(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestFromFiber(t *testing.T) {
	for code, want := range map[int]int{413: 413, 405: 405, 404: 404, 400: 400, 408: 400, 500: 500} {
		if got := registry.Status(fromFiber(fiber.NewError(code, "x"))); got != want {
			t.Errorf("fiber %d → %d, want %d", code, got, want)
		}
	}
}

func TestPageURL(t *testing.T) {
	params := url.Values{"family": {"smith"}, "_cursor": {"old"}}
	if got, want := pageURL("http://h/fhir", "Patient", params, "abc"), "http://h/fhir/Patient?_cursor=abc&family=smith"; got != want {
		t.Errorf("pageURL = %q, want %q", got, want)
	}
	if got, want := pageURL("http://h/fhir", "Patient", url.Values{}, ""), "http://h/fhir/Patient"; got != want {
		t.Errorf("pageURL = %q, want %q", got, want)
	}
}
