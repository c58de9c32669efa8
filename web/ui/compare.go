package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/matching"
	"idem/registry"
)

// The comparison of one review item: the record (or, for a possible
// duplicate, the other Person) beside the records of the candidate golden
// record, field by field, with the evidence the model scored, and the
// steward's decisions.

// maxColumns bounds the candidate records shown side by side.
const maxColumns = 6

type comparePage struct {
	view
	Form         queueForm
	Pos          int
	Link         *registry.Link
	Reason       string // why it is in review
	Open         bool   // still in review
	Duplicate    bool   // two Persons
	Decidable    bool   // the linker takes decisions on this golden record type
	Match        *matching.Match
	Pair         *linkage.Pair // for two Persons: the records the evidence compares
	Source       *record
	SourceGolden string // the golden record the record is in now
	Golden       *record
	Members      []*record
	More         int // members not shown
	Rows         []compareRow
	Others       []*registry.Link
	Skip         string
	Queue        string
}

// compareRow is one field: the record's value and each candidate's, with
// its agreement class.
type compareRow struct {
	Label  string
	Mine   []string
	Theirs []compareCell
}

type compareCell struct {
	Values []string
	Class  string
}

func (s *Server) handleCompare(c *fiber.Ctx) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	f, err := readQueueForm(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	pos, _ := strconv.Atoi(c.Query("pos"))
	ctx := c.UserContext()
	k, err := findLink(ctx, ls, c.Query("golden"), c.Query("source"))
	if err != nil {
		return err
	}
	p := comparePage{view: s.baseView(c, "Compare "+k.Source(), "review"), Form: f, Pos: pos, Link: k,
		Open:      k.MatchResult == registry.MatchResultPossible || k.MatchResult == registry.MatchResultPossibleDuplicate,
		Duplicate: k.SourceType == registry.TypePerson, Decidable: k.GoldenType == registry.TypePerson || k.GoldenType == registry.TypeLinkage || k.GoldenType == registry.TypeLocation,
		Skip: f.At(pos + 1), Queue: f.PageURL(0)}
	if len(k.Evidence) > 0 {
		var m matching.Match
		if err := json.Unmarshal(k.Evidence, &m); err == nil {
			p.Match = &m
		}
	}
	reasons, err := linkage.ReviewReasons(ctx, ls, []*registry.Link{k})
	if err != nil {
		return err
	}
	p.Reason = reasons[k.ID]
	if err := s.compareSides(ctx, ls, &p); err != nil {
		return err
	}
	if p.Duplicate && p.Match == nil {
		if err := s.duplicateEvidence(ctx, ls, &p); err != nil {
			return err
		}
	}
	return s.render(c, fiber.StatusOK, "compare", p)
}

// findLink returns the link between golden and source ("Type/id" each).
func findLink(ctx context.Context, ls registry.LinkStore, golden, source string) (*registry.Link, error) {
	g, err1 := registry.ParseRef(golden)
	src, err2 := registry.ParseRef(source)
	if err1 != nil || err2 != nil {
		return nil, registry.Errorf(registry.EInvalid, "golden %q and source %q: want Type/id each", golden, source)
	}
	page, err := ls.QueryLinks(ctx, registry.LinkFilter{GoldenType: g.Type, GoldenID: g.ID, SourceType: src.Type, SourceID: src.ID, Count: 1})
	if err != nil {
		return nil, err
	}
	if len(page.Links) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no link between %s and %s (it may have been decided and undone away)", golden, source)
	}
	return page.Links[0], nil
}

// compareSides reads the record, the candidate golden record and its
// records, and lays them out field by field.
func (s *Server) compareSides(ctx context.Context, ls registry.LinkStore, p *comparePage) error {
	k := p.Link
	members, err := ls.QueryLinks(ctx, registry.LinkFilter{GoldenType: k.GoldenType, GoldenID: k.GoldenID, MatchResult: []string{registry.MatchResultMatch}, Count: maxColumns})
	if err != nil {
		return err
	}
	refs := []string{k.Source(), k.Golden()}
	for _, m := range members.Links {
		refs = append(refs, m.Source())
	}
	p.More = members.Total - len(members.Links)
	mine, err := ls.QueryLinks(ctx, registry.LinkFilter{SourceType: k.SourceType, SourceID: k.SourceID})
	if err != nil {
		return err
	}
	for _, o := range mine.Links {
		switch {
		case o.MatchResult == registry.MatchResultMatch:
			p.SourceGolden = o.Golden()
		case o.MatchResult == registry.MatchResultPossible && o.Golden() != k.Golden():
			p.Others = append(p.Others, o)
		}
	}
	recs, err := s.records(ctx, refs)
	if err != nil {
		return err
	}
	p.Source, p.Golden = recs[k.Source()], recs[k.Golden()]
	for _, m := range members.Links {
		p.Members = append(p.Members, recs[m.Source()])
	}
	if len(p.Members) == 0 {
		p.Members = []*record{p.Golden} // a Location with no Linkage yet is its own candidate
	}
	p.Rows = compareRows(p.Source, p.Members)
	return nil
}

// compareRows lays out the fields of the record and its candidates. Each
// cell is classed by how it compares with the record; identifiers compare
// within one system only, and a different source system is no conflict.
func compareRows(mine *record, theirs []*record) []compareRow {
	text := func(partial bool) func(a, b []string) string {
		return func(a, b []string) string { return agreement(a, b, partial) }
	}
	fields := []struct {
		label string
		get   func(r *record) []string
		agree func(a, b []string) string
	}{
		{"Name", func(r *record) []string { return r.Names }, text(true)},
		{"Gender", func(r *record) []string { return one(r.Gender) }, text(false)},
		{"Birth date", func(r *record) []string { return one(r.BirthDate) }, text(true)},
		{"Identifiers", func(r *record) []string { return r.Identifiers }, identifierAgreement},
		{"Telecom", func(r *record) []string { return r.Telecom }, text(false)},
		{"Address", func(r *record) []string { return r.Address }, text(true)},
		{"Status", func(r *record) []string { return one(r.Status) }, text(false)},
		{"Source system", func(r *record) []string { return one(r.System) }, func(a, b []string) string { return "cell-other" }},
	}
	var rows []compareRow
	for _, f := range fields {
		row := compareRow{Label: f.label, Mine: f.get(mine)}
		empty := len(row.Mine) == 0
		for _, t := range theirs {
			v := f.get(t)
			empty = empty && len(v) == 0
			row.Theirs = append(row.Theirs, compareCell{Values: v, Class: f.agree(row.Mine, v)})
		}
		if !empty {
			rows = append(rows, row)
		}
	}
	return rows
}

// identifierAgreement compares identifiers system by system, as the
// matcher does: the same value in one system agrees, another value in one
// system conflicts, and identifiers of different systems say nothing
// (the evidence calls them missing).
func identifierAgreement(mine, theirs []string) string {
	bySystem := func(xs []string) map[string][]string {
		m := map[string][]string{}
		for _, x := range xs {
			val, sys := x, ""
			if i := strings.LastIndex(x, " ("); i >= 0 && strings.HasSuffix(x, ")") {
				val, sys = x[:i], x[i+2:len(x)-1]
			}
			m[sys] = append(m[sys], val)
		}
		return m
	}
	a, b := bySystem(mine), bySystem(theirs)
	class := "cell-missing"
	for sys, vals := range a {
		other, ok := b[sys]
		if !ok {
			continue
		}
		if agreement(vals, other, false) == "cell-agree" {
			return "cell-agree"
		}
		class = "cell-disagree"
	}
	return class
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Decisions on a review item.
const (
	actLink     = "link"     // the record is the golden record's entity (MATCH), or merge two Persons
	actNoMatch  = "nomatch"  // not this golden record's entity (NO_MATCH), or not duplicates
	actSeparate = "separate" // none of its candidates: the record keeps a Person of its own
)

// handleReviewDecide applies a steward's decision, then opens the next item at
// the same position of the queue, with a message offering undo.
func (s *Server) handleReviewDecide(c *fiber.Ctx) error {
	ls, l, err := s.linkStore()
	if err != nil {
		return err
	}
	back, err := url.ParseQuery(c.FormValue("back"))
	if err != nil {
		return registry.Errorf(registry.EInvalid, "back: not a query string")
	}
	f, err := readQueueForm(back.Get)
	if err != nil {
		return err
	}
	pos, _ := strconv.Atoi(c.FormValue("pos"))
	ctx := c.UserContext()
	k, err := findLink(ctx, ls, c.FormValue("golden"), c.FormValue("source"))
	if err != nil {
		return err
	}
	action := c.FormValue("action")
	if err := s.mayDo(c, policyAction(k, action), policyType(k)); err != nil {
		return err
	}
	msg, err := s.decide(ctx, l, ls, k, action)
	if err != nil {
		return err
	}
	op, _ := latestOp(ctx, ls, k)
	s.setFlash(c, flash{Kind: "ok", Msg: msg, Op: op, Back: compareURL(f, k, pos)})
	return redirect(c, f.At(max(pos, 0)))
}

// decide applies one decision and says what it did.
func (s *Server) decide(ctx context.Context, l *linkage.Linker, ls registry.LinkStore, k *registry.Link, action string) (string, error) {
	dup := k.SourceType == registry.TypePerson
	switch {
	case action == actLink && dup:
		return "Merged " + k.Source() + " into " + k.Golden() + ".", l.Merge(ctx, k.Source(), k.Golden())
	case action == actLink:
		_, err := l.SetLink(ctx, k.Golden(), k.Source(), registry.MatchResultMatch, true)
		return "Linked " + k.Source() + " to " + k.Golden() + ".", err
	case action == actNoMatch && dup, action == actSeparate && dup:
		return k.Source() + " and " + k.Golden() + " are marked as different entities.", l.NotDuplicate(ctx, k.Golden(), k.Source())
	case action == actNoMatch:
		_, err := l.SetLink(ctx, k.Golden(), k.Source(), registry.MatchResultNoMatch, true)
		return k.Source() + " is not " + k.Golden() + ".", err
	case action == actSeparate:
		open, err := ls.QueryLinks(ctx, registry.LinkFilter{SourceType: k.SourceType, SourceID: k.SourceID, MatchResult: []string{registry.MatchResultPossible}})
		if err != nil {
			return "", err
		}
		for _, o := range open.Links {
			if _, err := l.SetLink(ctx, o.Golden(), o.Source(), registry.MatchResultNoMatch, true); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%s stays separate: %d candidate(s) refused.", k.Source(), len(open.Links)), nil
	}
	return "", registry.Errorf(registry.EInvalid, "action %q: want link, nomatch or separate", action)
}

// policyAction and policyType are the policy question a decision asks:
// linking records of the source's type, or merging Persons.
func policyAction(k *registry.Link, action string) string {
	if k.SourceType == registry.TypePerson && action == actLink {
		return "merge"
	}
	return "link"
}

func policyType(k *registry.Link) string { return k.SourceType }

// latestOp is the decision that last changed the link between k's records:
// the one just taken, for the undo offer.
func latestOp(ctx context.Context, ls registry.LinkStore, k *registry.Link) (int64, error) {
	events, err := ls.LinkHistory(ctx, []string{k.GoldenID}, []string{k.SourceID})
	if err != nil || len(events) == 0 {
		return 0, err
	}
	var op int64
	for _, e := range events {
		op = max(op, e.OpID)
	}
	return op, nil
}
