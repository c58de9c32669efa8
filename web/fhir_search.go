package web

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"idem/registry"
	"idem/registry/fhir"
)

func (s *Server) handleSearch(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	params, err := queryValues(c)
	if err != nil {
		return err
	}
	params = withoutControl(params)
	if params.Has("_federated") {
		return s.handleFederated(c, typ, params)
	}
	if err := s.allowSearch(c.UserContext(), typ, params); err != nil {
		return err
	}
	strict := preferValue(c, "handling") == "strict"
	q, res, err := s.registry.Search(c.UserContext(), typ, params, strict)
	if err != nil {
		return err
	}
	res.Included = s.permittedIncludes(c.UserContext(), res.Included)
	s.auditRead(c, readAudit{action: "E", subtype: "search-type", query: typ + "?" + params.Encode(),
		records: versionRefs(append(res.Matches[:len(res.Matches):len(res.Matches)], res.Included...)), total: res.Total})
	return s.sendJSON(c, fiber.StatusOK, s.searchBundle(c, typ, params, q, res))
}

// searchBundle builds the searchset: matches, includes, an outcome entry for
// ignored parameters, and self/next/previous links that repeat the query.
func (s *Server) searchBundle(c *fiber.Ctx, typ string, params url.Values, q *registry.Query, res *registry.SearchResult) map[string]any {
	base := s.base(c)
	b := newBundle("searchset")
	if res.Total >= 0 {
		b["total"] = res.Total
	}
	links := []any{link("self", pageURL(base, typ, params, res.Self))}
	if res.Next != "" {
		links = append(links, link("next", pageURL(base, typ, params, res.Next)))
	}
	if res.Prev != "" {
		links = append(links, link("previous", pageURL(base, typ, params, res.Prev)))
	}
	b["link"] = links
	var entries []any
	for _, r := range res.Matches {
		entries = appendEntry(entries, base, r, "match")
	}
	for _, r := range res.Included {
		entries = appendEntry(entries, base, r, "include")
	}
	if len(q.Issues) > 0 {
		entries = append(entries, map[string]any{
			"fullUrl":  "urn:uuid:" + uuid.NewString(),
			"resource": fhir.OperationOutcome(q.Issues),
			"search":   map[string]any{"mode": "outcome"},
		})
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

func newBundle(typ string) map[string]any {
	return map[string]any{
		"resourceType": "Bundle",
		"id":           uuid.NewString(),
		"meta":         map[string]any{"lastUpdated": registry.FormatInstant(time.Now())},
		"type":         typ,
	}
}

func link(rel, u string) map[string]any { return map[string]any{"relation": rel, "url": u} }

func pageURL(base, typ string, params url.Values, cursor string) string {
	p := url.Values{}
	for k, v := range params {
		if k != "_cursor" {
			p[k] = v
		}
	}
	if cursor != "" {
		p.Set("_cursor", cursor)
	}
	u := base + "/" + typ
	if enc := p.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

func appendEntry(entries []any, base string, r *registry.Resource, mode string) []any {
	m, err := registry.DecodeStored(r)
	if err != nil {
		return entries
	}
	return append(entries, map[string]any{
		"fullUrl":  base + "/" + r.Type + "/" + r.ID,
		"resource": m,
		"search":   map[string]any{"mode": mode},
	})
}

func (s *Server) handleTypeHistory(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	return s.history(c, &registry.HistoryQuery{Type: typ})
}

func (s *Server) handleInstanceHistory(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	return s.history(c, &registry.HistoryQuery{Type: typ, ID: c.Params("id")})
}

// history answers instance and type history with _since, _count and paging.
func (s *Server) history(c *fiber.Ctx, q *registry.HistoryQuery) error {
	params, err := queryValues(c)
	if err != nil {
		return err
	}
	if err := parseHistoryParams(params, q); err != nil {
		return err
	}
	res, err := s.registry.History(c.UserContext(), q)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, s.historyBundle(c, q, params, res))
}

func parseHistoryParams(params url.Values, q *registry.HistoryQuery) error {
	q.Count = 20
	if v := params.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return registry.Invalid(registry.EInvalid, "invalid", "_count", "_count must be a positive integer (got %q)", v)
		}
		q.Count = min(n, 1000)
	}
	if v := params.Get("_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return registry.Invalid(registry.EInvalid, "invalid", "_since", "_since must be an instant such as 2024-01-02T03:04:05Z (got %q)", v)
		}
		q.Since = t
	}
	q.Page = params.Get("_cursor")
	return nil
}

func (s *Server) historyBundle(c *fiber.Ctx, q *registry.HistoryQuery, params url.Values, res *registry.HistoryResult) map[string]any {
	base := s.base(c)
	path := q.Type
	if q.ID != "" {
		path += "/" + q.ID
	}
	path += "/_history"
	b := newBundle("history")
	b["total"] = res.Total
	links := []any{link("self", pageURL(base, path, params, q.Page))}
	if res.Next != "" {
		links = append(links, link("next", pageURL(base, path, params, res.Next)))
	}
	b["link"] = links
	var entries []any
	for _, r := range res.Versions {
		entries = append(entries, historyEntry(base, r))
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

func historyEntry(base string, r *registry.Resource) map[string]any {
	e := map[string]any{"fullUrl": base + "/" + r.Type + "/" + r.ID}
	resp := map[string]any{"etag": registry.ETag(r.VersionID), "lastModified": registry.FormatInstant(r.LastUpdated)}
	switch {
	case r.Deleted:
		e["request"] = map[string]any{"method": "DELETE", "url": r.Type + "/" + r.ID}
		resp["status"] = "204 No Content"
	case r.VersionID == 1:
		e["request"] = map[string]any{"method": "POST", "url": r.Type}
		resp["status"] = "201 Created"
	default:
		e["request"] = map[string]any{"method": "PUT", "url": r.Type + "/" + r.ID}
		resp["status"] = "200 OK"
	}
	if !r.Deleted {
		if m, err := registry.DecodeStored(r); err == nil {
			e["resource"] = m
		}
	}
	e["response"] = resp
	return e
}
