package web

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/fhir"
)

const fhirJSON = "application/fhir+json; charset=utf-8"

// negotiate refuses, before any work, requests for a format other than
// JSON (_format or Accept) and request bodies that are not FHIR JSON.
func (s *Server) negotiate(c *fiber.Ctx) error {
	if f := c.Query("_format"); f != "" && !jsonFormat(f) {
		return registry.Errorf(registry.ENotAcceptable, "_format %q is not supported: this server speaks application/fhir+json only", f)
	}
	if a := c.Get(fiber.HeaderAccept); a != "" && !acceptsJSON(a) {
		return registry.Errorf(registry.ENotAcceptable, "Accept %q is not supported: this server speaks application/fhir+json only", a)
	}
	if (c.Method() == fiber.MethodPost || c.Method() == fiber.MethodPut) && hasBody(c) {
		return checkContentType(c)
	}
	return c.Next()
}

func jsonFormat(f string) bool {
	mt, _, err := mime.ParseMediaType(f)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(f))
	}
	switch mt {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

// acceptsJSON reports whether an Accept header allows a JSON answer.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && (q == "0" || q == "0.0" || q == "0.00" || q == "0.000") {
			continue
		}
		if jsonFormat(mt) || mt == "*/*" || mt == "application/*" {
			return true
		}
	}
	return false
}

func checkContentType(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return c.Next() // tolerate clients that omit it; the body must still be FHIR JSON
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return registry.Errorf(registry.EUnsupported, "Content-Type %q cannot be parsed", ct)
	}
	if mt == "application/x-www-form-urlencoded" && strings.HasSuffix(c.Path(), "/_search") {
		return c.Next()
	}
	if !jsonFormat(mt) {
		return registry.Errorf(registry.EUnsupported, "Content-Type %q is not supported: send application/fhir+json", mt)
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
		return registry.Errorf(registry.EUnsupported, "charset %q is not supported: send UTF-8", cs)
	}
	return c.Next()
}

// pretty reports whether the client asked for indented output.
func pretty(c *fiber.Ctx) bool { return c.Query("_pretty") == "true" }

// sendJSON writes a FHIR JSON object with status.
func (s *Server) sendJSON(c *fiber.Ctx, status int, m map[string]any) error {
	var body []byte
	if pretty(c) {
		body = fhir.MarshalIndent(m)
	} else {
		body = fhir.MarshalResource(m)
	}
	c.Set(fiber.HeaderContentType, fhirJSON)
	return c.Status(status).Send(body)
}

func (s *Server) sendOutcome(c *fiber.Ctx, status int, oo map[string]any) error {
	return s.sendJSON(c, status, oo)
}

// sendStored writes a stored resource version as it is, with its ETag and
// Last-Modified headers.
func (s *Server) sendStored(c *fiber.Ctx, status int, r *registry.Resource) error {
	setVersionHeaders(c, r)
	body := r.Body
	if pretty(c) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			body = buf.Bytes()
		}
	}
	c.Set(fiber.HeaderContentType, fhirJSON)
	return c.Status(status).Send(body)
}

func setVersionHeaders(c *fiber.Ctx, r *registry.Resource) {
	c.Set(fiber.HeaderETag, registry.ETag(r.VersionID))
	c.Set(fiber.HeaderLastModified, r.LastUpdated.UTC().Format(http.TimeFormat))
}

// base returns the public FHIR base URL without a trailing slash.
func (s *Server) base(c *fiber.Ctx) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/")
	}
	return s.root(c) + "/fhir"
}

// preferReturn returns the return= value of the Prefer header, or "".
func preferReturn(c *fiber.Ctx) string { return preferValue(c, "return") }

func preferValue(c *fiber.Ctx, key string) string {
	for _, part := range strings.Split(c.Get("Prefer"), ";") {
		for _, kv := range strings.Split(part, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if ok && strings.EqualFold(k, key) {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// queryValues returns the request's query parameters, plus the form body of
// a POST _search; control characters FHIR strings forbid are EInvalid.
func queryValues(c *fiber.Ctx) (url.Values, error) {
	v, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return nil, registry.Invalid(registry.EInvalid, "invalid", "", "the query string is malformed: %v", err)
	}
	if c.Method() == fiber.MethodPost && strings.HasPrefix(c.Get(fiber.HeaderContentType), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(c.Body()))
		if err != nil {
			return nil, registry.Invalid(registry.EInvalid, "invalid", "", "the form body is malformed: %v", err)
		}
		for k, vs := range form {
			v[k] = append(v[k], vs...)
		}
	}
	if err := fhir.CheckParams(v); err != nil {
		return nil, err
	}
	return v, nil
}

// ifMatch returns the version named by If-Match, or 0 when absent.
func ifMatch(c *fiber.Ctx) (int64, error) {
	h := c.Get(fiber.HeaderIfMatch)
	if h == "" {
		return 0, nil
	}
	v, err := registry.ParseETag(h)
	if err != nil {
		return 0, registry.Invalid(registry.EInvalid, "invalid", "If-Match", "%v", err)
	}
	return v, nil
}

func parseVersion(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, registry.Errorf(registry.ENotFound, "version %q does not exist", s)
	}
	return v, nil
}
