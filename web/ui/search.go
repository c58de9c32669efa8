package ui

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Search across the source record types, and the audit log.

const searchCount = 20

type searchForm struct {
	Name, BirthDate, Identifier, Type string
}

func (f searchForm) empty() bool { return f.Name == "" && f.BirthDate == "" && f.Identifier == "" }

// searchHit is one record found, with its golden record.
type searchHit struct {
	Record *record
	Golden string
}

type searchGroup struct {
	Type  string
	Hits  []searchHit
	Total int
}

type searchPage struct {
	view
	Form    searchForm
	Types   []string
	Groups  []searchGroup
	Skipped []string // types without a birth date to search by
	Error   string
	Done    bool
}

func (s *Server) handleSearchPage(c *fiber.Ctx) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	f := searchForm{Name: strings.TrimSpace(c.Query("name")), BirthDate: strings.TrimSpace(c.Query("birthdate")),
		Identifier: strings.TrimSpace(c.Query("identifier")), Type: c.Query("type")}
	if f.Type != "" && !slices.Contains(matchable, f.Type) {
		return registry.Errorf(registry.EInvalid, "type %q: want Patient, Practitioner or Location", f.Type)
	}
	p := searchPage{view: s.baseView(c, "Search", "search"), Form: f, Types: matchable}
	if f.empty() {
		return s.render(c, fiber.StatusOK, "search", p)
	}
	p.Done = true
	for _, typ := range matchable {
		if f.Type != "" && typ != f.Type {
			continue
		}
		if f.BirthDate != "" && registry.LookupParam(typ, "birthdate") == nil {
			p.Skipped = append(p.Skipped, typ)
			continue
		}
		g, err := s.searchType(c.UserContext(), ls, typ, f)
		if code := registry.ErrorCode(err); code == registry.EInvalid {
			p.Error = registry.ErrorMessage(err)
			return s.render(c, fiber.StatusBadRequest, "search", p)
		} else if err != nil {
			return err
		}
		p.Groups = append(p.Groups, g)
	}
	return s.render(c, fiber.StatusOK, "search", p)
}

// searchType runs the search on one type and finds each hit's golden record.
func (s *Server) searchType(ctx context.Context, ls registry.LinkStore, typ string, f searchForm) (searchGroup, error) {
	g := searchGroup{Type: typ}
	q := url.Values{"_count": {strconv.Itoa(searchCount)}}
	for k, v := range map[string]string{"name": f.Name, "birthdate": f.BirthDate, "identifier": f.Identifier} {
		if v != "" {
			q.Set(k, v)
		}
	}
	_, res, err := s.registry.Search(ctx, typ, q, true)
	if err != nil {
		return g, err
	}
	g.Total = res.Total
	var refs []string
	for _, r := range res.Matches {
		refs = append(refs, r.Type+"/"+r.ID)
	}
	golden, err := s.goldenOf(ctx, ls, refs)
	if err != nil {
		return g, err
	}
	for _, r := range res.Matches {
		g.Hits = append(g.Hits, searchHit{Record: toRecord(r), Golden: golden[r.Type+"/"+r.ID]})
	}
	return g, nil
}

// auditRow is one AuditEvent as the log shows it.
type auditRow struct {
	ID, When, Type, Action, Outcome string
	Agents, Entities, Details       []string
	Failed                          bool
}

type auditForm struct {
	Agent, Entity, Action, Since string
}

type auditPage struct {
	view
	Form    auditForm
	Rows    []auditRow
	Note    string
	Next    string
	HasNone bool // this server keeps no AuditEvents
}

const auditType = "AuditEvent"

// auditPageSize is the number of events on one page of the audit log.
const auditPageSize = 50

// readableTime shows an instant as "2026-12-06 22:05:13 UTC"; what does
// not parse is shown as it is.
func readableTime(v string) string {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return v
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func (s *Server) handleAuditPage(c *fiber.Ctx) error {
	f := auditForm{Agent: strings.TrimSpace(c.Query("agent")), Entity: strings.TrimSpace(c.Query("entity")),
		Action: strings.TrimSpace(c.Query("action")), Since: strings.TrimSpace(c.Query("since"))}
	p := auditPage{view: s.baseView(c, "Audit log", "audit"), Form: f}
	if registry.LookupParam(auditType, "_id") == nil {
		p.HasNone = true
		return s.render(c, fiber.StatusOK, "audit", p)
	}
	q := url.Values{"_count": {strconv.Itoa(auditPageSize)}, "_sort": {"-_lastUpdated"}} // newest first
	// The search narrows by agent, action and date where the server has
	// the parameters; matches (substrings, entities with their versions)
	// does the rest.
	for param, v := range map[string]string{"agent-name": f.Agent, "date": f.Since} {
		if v != "" && registry.LookupParam(auditType, param) != nil {
			if param == "date" {
				v = "ge" + v
			}
			q.Set(param, v)
		}
	}
	if len(f.Action) == 1 && registry.LookupParam(auditType, "action") != nil {
		q.Set("action", f.Action)
	}
	if cur := c.Query("cursor"); cur != "" {
		q.Set("_cursor", cur)
	}
	_, res, err := s.registry.Search(c.UserContext(), auditType, q, true)
	if registry.ErrorCode(err) == registry.EInvalid {
		p.Note = registry.ErrorMessage(err)
		return s.render(c, fiber.StatusBadRequest, "audit", p)
	} else if err != nil {
		return err
	}
	s.host.AuditSearch(c, auditType+"?"+q.Encode(), res.Matches, res.Total)
	for _, r := range res.Matches {
		if row, ok := auditOf(r); ok && f.matches(row) {
			p.Rows = append(p.Rows, row)
		}
	}
	if res.Next != "" {
		v := url.Values{"cursor": {res.Next}}
		for k, x := range map[string]string{"agent": f.Agent, "entity": f.Entity, "action": f.Action, "since": f.Since} {
			if x != "" {
				v.Set(k, x)
			}
		}
		p.Next = "/audit?" + v.Encode()
	}
	return s.render(c, fiber.StatusOK, "audit", p)
}

// matches applies the filters the search cannot: each is a
// case-insensitive substring of its column.
func (f auditForm) matches(r auditRow) bool {
	has := func(vals []string, want string) bool {
		want = strings.ToLower(want)
		return want == "" || slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(strings.ToLower(v), want) })
	}
	return has(r.Agents, f.Agent) && has(r.Entities, f.Entity) && has([]string{r.Action, r.Type}, f.Action)
}

// auditOf reads the displayed parts of an AuditEvent.
func auditOf(r *registry.Resource) (auditRow, bool) {
	body, err := registry.DecodeStored(r)
	if err != nil {
		return auditRow{}, false
	}
	row := auditRow{ID: r.ID, When: readableTime(str(body["recorded"])), Action: str(body["action"])}
	coding := func(v any) string {
		m, _ := v.(map[string]any)
		if d := str(m["display"]); d != "" {
			return d
		}
		return str(m["code"])
	}
	row.Type = coding(body["type"])
	for _, st := range list(body["subtype"]) {
		row.Type += " / " + coding(st)
	}
	code := str(body["outcome"])
	row.Failed = code != "" && code != registry.AuditSuccess
	row.Outcome = map[string]string{"": "success", registry.AuditSuccess: "success", registry.AuditMinorFailure: "minor failure",
		registry.AuditSeriousFailure: "serious failure", "12": "major failure"}[code]
	if d := str(body["outcomeDesc"]); d != "" {
		row.Outcome += ": " + d
	}
	for _, a := range list(body["agent"]) {
		m, _ := a.(map[string]any)
		who, _ := m["who"].(map[string]any)
		row.Agents = append(row.Agents, firstOf(str(who["display"]), str(m["name"]), str(who["reference"]), identifierText(who["identifier"])))
	}
	for _, e := range list(body["entity"]) {
		m, _ := e.(map[string]any)
		what, _ := m["what"].(map[string]any)
		if ref := firstOf(str(what["reference"]), str(m["name"])); ref != "" {
			row.Entities = append(row.Entities, ref)
		}
		if _, ok := m["query"]; ok {
			row.Details = append(row.Details, "query: "+str(m["description"]))
		}
		for _, d := range list(m["detail"]) {
			dm, _ := d.(map[string]any)
			row.Details = append(row.Details, str(dm["type"])+": "+str(dm["valueString"]))
		}
	}
	return row, true
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
