package ui

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The golden record pages: a Person with the source of each golden value,
// a Linkage with its items; both with their linked records and the
// timeline of link decisions, each undoable.

// goldenValue is one golden value and the record it came from.
type goldenValue struct {
	Field, Value, Source string
	System               string // the source record's system
}

// member is a record linked to a golden record.
type member struct {
	Link   *registry.Link
	Record *record
	Item   string // a Linkage item type: source, alternate, historical
}

// timelineEntry is one decision that changed the golden record's links.
type timelineEntry struct {
	Op      *registry.Op
	Changes []*registry.Link // the links' states after it (MatchResult "" when removed)
}

type goldenPage struct {
	view
	Golden   *record
	Active   bool
	Values   []goldenValue
	Members  []member
	Others   []*registry.Link // review, refused and redirect links
	Timeline []timelineEntry
	Names    map[string]string // "Type/id" → the record's name, for the timeline
	Back     string
}

func (s *Server) handlePersonPage(c *fiber.Ctx) error {
	return s.goldenPage(c, registry.TypePerson)
}

func (s *Server) handleLinkagePage(c *fiber.Ctx) error {
	return s.goldenPage(c, registry.TypeLinkage)
}

func (s *Server) goldenPage(c *fiber.Ctx, typ string) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	id := c.Params("id")
	r, err := s.registry.Read(ctx, typ, id)
	if err != nil {
		return err
	}
	body, err := registry.DecodeStored(r)
	if err != nil {
		return err
	}
	p := goldenPage{view: s.baseView(c, typ+" "+id, ""), Golden: toRecord(r), Active: body["active"] != false, Back: c.OriginalURL()}
	links, err := ls.QueryLinks(ctx, registry.LinkFilter{GoldenType: typ, GoldenID: id})
	if err != nil {
		return err
	}
	var refs, sources []string
	for _, k := range links.Links {
		refs = append(refs, k.Source())
		sources = append(sources, k.SourceID)
	}
	recs, err := s.records(ctx, refs)
	if err != nil {
		return err
	}
	items := linkageItems(body)
	for _, k := range links.Links {
		if k.MatchResult == registry.MatchResultMatch {
			p.Members = append(p.Members, member{Link: k, Record: recs[k.Source()], Item: items[k.Source()]})
		} else {
			p.Others = append(p.Others, k)
		}
	}
	if typ == registry.TypePerson {
		p.Values = personValues(body)
		for i, v := range p.Values {
			if r := recs[v.Source]; r != nil {
				p.Values[i].System = r.System
			}
		}
	}
	if p.Timeline, err = timeline(ctx, ls, typ, id, sources); err != nil {
		return err
	}
	if p.Names, err = s.timelineNames(ctx, p.Timeline, recs); err != nil {
		return err
	}
	if p.Golden.Name == "" && len(p.Members) > 0 && p.Members[0].Record != nil {
		// A Linkage has no name of its own: it is named by its Location.
		p.Golden.Name = "Linkage of " + p.Members[0].Record.Label()
	}
	p.Title = typ + " " + p.Golden.Label()
	return s.render(c, fiber.StatusOK, "golden", p)
}

// timelineNames names the records and golden records of the timeline's
// changes: those in known, the rest read.
func (s *Server) timelineNames(ctx context.Context, tl []timelineEntry, known map[string]*record) (map[string]string, error) {
	names := map[string]string{}
	var missing []string
	for _, t := range tl {
		for _, k := range t.Changes {
			for _, ref := range []string{k.Source(), k.Golden()} {
				if r := known[ref]; r != nil {
					names[ref] = r.Label()
				} else if _, ok := names[ref]; !ok {
					names[ref] = ""
					missing = append(missing, ref)
				}
			}
		}
	}
	recs, err := s.records(ctx, missing)
	if err != nil {
		return nil, err
	}
	for ref, r := range recs {
		if r != nil && r.Name != "" {
			names[ref] = r.Name
		}
	}
	return names, nil
}

// personValues lists a Person's golden demographics with the record each
// came from (the value-source extension).
func personValues(body map[string]any) []goldenValue {
	var out []goldenValue
	src := func(v any) string {
		m, _ := v.(map[string]any)
		for _, e := range list(m["extension"]) {
			ext, _ := e.(map[string]any)
			if str(ext["url"]) == linkage.ValueSourceURL {
				ref, _ := ext["valueReference"].(map[string]any)
				return str(ref["reference"])
			}
		}
		return ""
	}
	for _, n := range list(body["name"]) {
		out = append(out, goldenValue{Field: "Name", Value: humanName(n), Source: src(n)})
	}
	for _, f := range []struct{ key, label string }{{"gender", "Gender"}, {"birthDate", "Birth date"}} {
		if v := str(body[f.key]); v != "" {
			out = append(out, goldenValue{Field: f.label, Value: v, Source: src(body["_"+f.key])})
		}
	}
	for _, id := range list(body["identifier"]) {
		if m, _ := id.(map[string]any); str(m["system"]) != linkage.PersonIDSystem {
			out = append(out, goldenValue{Field: "Identifier", Value: identifierText(id), Source: src(id)})
		}
	}
	for _, t := range list(body["telecom"]) {
		out = append(out, goldenValue{Field: "Telecom", Value: telecomText(t), Source: src(t)})
	}
	for _, a := range list(body["address"]) {
		out = append(out, goldenValue{Field: "Address", Value: addressText(a), Source: src(a)})
	}
	return out
}

// linkageItems maps a Linkage's item references to their item types.
func linkageItems(body map[string]any) map[string]string {
	out := map[string]string{}
	for _, it := range list(body["item"]) {
		m, _ := it.(map[string]any)
		res, _ := m["resource"].(map[string]any)
		out[str(res["reference"])] = str(m["type"])
	}
	return out
}

// timeline groups the link events of a golden record and its records by
// decision, newest first.
func timeline(ctx context.Context, ls registry.LinkStore, typ, id string, sources []string) ([]timelineEntry, error) {
	events, err := ls.LinkHistory(ctx, []string{id}, sources)
	if err != nil {
		return nil, err
	}
	byOp := map[int64]*timelineEntry{}
	var ids []int64
	for _, e := range events {
		k := e.Link
		if !(k.GoldenType == typ && k.GoldenID == id) && !slices.Contains(sources, k.SourceID) {
			continue
		}
		t := byOp[e.OpID]
		if t == nil {
			t = &timelineEntry{Op: &registry.Op{ID: e.OpID, Actor: e.Actor, Reason: e.Reason, At: e.At}}
			byOp[e.OpID] = t
			ids = append(ids, e.OpID)
		}
		t.Changes = append(t.Changes, &k)
	}
	ops, err := ls.Ops(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		if t := byOp[op.ID]; t != nil {
			t.Op = op
		}
	}
	out := make([]timelineEntry, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		out = append(out, *byOp[ids[i]])
	}
	return out, nil
}

// handleUnlink takes a record out of its golden record (NO_MATCH); the
// linker gives it a golden record of its own.
func (s *Server) handleUnlink(c *fiber.Ctx) error {
	ls, l, err := s.linkStore()
	if err != nil {
		return err
	}
	golden, source := c.FormValue("golden"), c.FormValue("source")
	src, err := registry.ParseRef(strings.TrimSpace(source)) // as SetLink reads it
	if err != nil {
		return err
	}
	if err := s.mayDo(c, "link", src.Type); err != nil {
		return err
	}
	k, err := l.SetLink(c.UserContext(), golden, source, registry.MatchResultNoMatch, true)
	if err != nil {
		return err
	}
	op, _ := latestOp(c.UserContext(), ls, k)
	back := localPath(c.FormValue("back"))
	s.setFlash(c, flash{Kind: "ok", Msg: "Unlinked " + source + " from " + golden + ": it has a golden record of its own now.", Op: op, Back: back})
	return redirect(c, back)
}

// handleUndo undoes one decision and returns to the page it was asked from.
func (s *Server) handleUndo(c *fiber.Ctx) error {
	_, l, err := s.linkStore()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.FormValue("op"), 10, 64)
	if err != nil || id <= 0 {
		return registry.Errorf(registry.EInvalid, "op %q: want a decision number", c.FormValue("op"))
	}
	back := localPath(c.FormValue("back"))
	undo, err := l.Undo(c.UserContext(), id)
	if code := registry.ErrorCode(err); code == registry.EConflict || code == registry.ENotFound {
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
		return redirect(c, back)
	} else if err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "ok", Msg: "Decision " + strconv.FormatInt(id, 10) + " undone (as decision " + strconv.FormatInt(undo.ID, 10) + ").", Op: undo.ID, Back: back})
	return redirect(c, back)
}
