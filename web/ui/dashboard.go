package ui

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/matching"
	"idem/registry"
)

// scanCap bounds the records and links one dashboard or filtered queue
// reads: past it the page says its figures are from a sample.
const scanCap = 20000

// matchable are the source record types, in display order.
var matchable = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}

// typeCount is the records of one type, by source system.
type typeCount struct {
	Type    string
	Total   int
	Systems []systemCount
	Sampled int // records read for Systems when fewer than Total
}

type systemCount struct {
	System string
	N      int
}

// reviewRow is one line of the review table: a source type and match
// result with its open items by age.
type reviewRow struct {
	Type, Result string
	Ages         []int
	Total        int
}

var reviewAges = []string{"<1d", "1-7d", "7-30d", ">30d"}

type dashboardPage struct {
	view
	Types             []typeCount
	Persons, Linkages int
	Ages              []string
	Review            []reviewRow
	ReviewTotal       int
	Match             int     // records linked to a golden record
	Auto, New         int     // matcher's decisions: linked to an existing golden record, or a new one
	ToReview, Waiting int     // sent to a steward (Waiting of them still in the queue)
	AutoRate          float64 // share of the decisions the matcher took alone
	HistType          string
	HistTypes         []string
	Hist              *histogram
	HistSampled       bool
	Model             string
	Thresholds        matching.Thresholds
}

func (s *Server) handleDashboard(c *fiber.Ctx) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	d := dashboardPage{view: s.baseView(c, "Dashboard", "dashboard"), Ages: reviewAges, HistTypes: matchable}
	d.HistType = c.Query("type", registry.TypePatient)
	if !slices.Contains(matchable, d.HistType) {
		return registry.Errorf(registry.EInvalid, "type %q: want Patient, Practitioner or Location", d.HistType)
	}
	for _, typ := range matchable {
		tc, err := s.countBySystem(ctx, typ)
		if err != nil {
			return err
		}
		d.Types = append(d.Types, tc)
	}
	if d.Persons, err = s.count(ctx, registry.TypePerson); err != nil {
		return err
	}
	if d.Linkages, err = s.count(ctx, registry.TypeLinkage); err != nil {
		return err
	}
	if err := s.reviewTable(ctx, ls, &d); err != nil {
		return err
	}
	if err := s.linkRates(ctx, ls, &d); err != nil {
		return err
	}
	links, sampled, err := scoredLinks(ctx, ls, d.HistType)
	if err != nil {
		return err
	}
	d.Model, d.Thresholds = s.thresholds(ctx, d.HistType)
	d.Hist, d.HistSampled = newHistogram(links, d.Thresholds), sampled
	return s.render(c, fiber.StatusOK, "dashboard", d)
}

// count is the number of current resources of typ.
func (s *Server) count(ctx context.Context, typ string) (int, error) {
	res, err := s.registry.Store.Search(ctx, &registry.Query{Type: typ, Summary: "count"})
	if err != nil {
		return 0, err
	}
	return res.Total, nil
}

// countsFor is how long the dashboard shows the same record counts.
const countsFor = 30 * time.Second

// countBySystem counts typ's records and, from up to scanCap of them, their
// source systems; a count younger than countsFor is reused.
func (s *Server) countBySystem(ctx context.Context, typ string) (typeCount, error) {
	s.ui.mu.Lock()
	c, ok := s.ui.counts[typ]
	s.ui.mu.Unlock()
	if ok && time.Since(c.at) < countsFor {
		return c.tc, nil
	}
	tc, err := s.scanSystems(ctx, typ)
	if err == nil {
		s.ui.mu.Lock()
		s.ui.counts[typ] = cachedCount{at: time.Now(), tc: tc}
		s.ui.mu.Unlock()
	}
	return tc, err
}

func (s *Server) scanSystems(ctx context.Context, typ string) (typeCount, error) {
	tc := typeCount{Type: typ}
	total, err := s.count(ctx, typ)
	if err != nil {
		return tc, err
	}
	tc.Total = total
	bySystem := map[string]int{}
	n := 0
	q := &registry.Query{Type: typ, Count: registry.MaxCount, NoTotal: true}
	for n < scanCap {
		res, err := s.registry.Store.Search(ctx, q)
		if err != nil {
			return tc, err
		}
		for _, r := range res.Matches {
			bySystem[toRecord(r).System]++
			n++
		}
		if res.Next == "" {
			break
		}
		q.Page = res.Next
	}
	for sys, k := range bySystem {
		tc.Systems = append(tc.Systems, systemCount{System: cmp.Or(sys, "(no meta.source)"), N: k})
	}
	slices.SortFunc(tc.Systems, func(a, b systemCount) int { return cmp.Or(b.N-a.N, cmp.Compare(a.System, b.System)) })
	if n < total {
		tc.Sampled = n
	}
	return tc, nil
}

// reviewTable fills the open review items by type, result and age.
func (s *Server) reviewTable(ctx context.Context, ls registry.LinkStore, d *dashboardPage) error {
	counts, err := ls.ReviewCounts(ctx, s.now())
	if err != nil {
		return err
	}
	for _, n := range counts {
		i := slices.IndexFunc(d.Review, func(r reviewRow) bool { return r.Type == n.SourceType && r.Result == n.MatchResult })
		if i < 0 {
			d.Review = append(d.Review, reviewRow{Type: n.SourceType, Result: n.MatchResult, Ages: make([]int, len(reviewAges))})
			i = len(d.Review) - 1
		}
		if a := slices.Index(reviewAges, n.Age); a >= 0 {
			d.Review[i].Ages[a] += n.Items
		}
		d.Review[i].Total += n.Items
		d.ReviewTotal += n.Items
	}
	return nil
}

// linkRates counts the matcher's decisions over the records linked: linked
// to an existing golden record by itself, given a new golden record, or
// sent to a steward (waiting in review, or linked by one). A record waiting
// in review holds a golden record of its own meanwhile, so it is counted
// under review, not new.
func (s *Server) linkRates(ctx context.Context, ls registry.LinkStore, d *dashboardPage) error {
	count := func(f registry.LinkFilter) (int, error) {
		f.MatchResult, f.Count = []string{registry.MatchResultMatch}, 1
		page, err := ls.QueryLinks(ctx, f)
		if err != nil {
			return 0, err
		}
		return page.Total, nil
	}
	yes, no := true, false
	var err error
	if d.Match, err = count(registry.LinkFilter{}); err != nil {
		return err
	}
	if d.Auto, err = count(registry.LinkFilter{LinkSource: registry.LinkSourceAuto, NewGolden: &no}); err != nil {
		return err
	}
	if d.New, err = count(registry.LinkFilter{LinkSource: registry.LinkSourceAuto, NewGolden: &yes}); err != nil {
		return err
	}
	if d.Waiting, err = waitingRecords(ctx, ls); err != nil {
		return err
	}
	d.ToReview = max(0, d.Match-d.Auto-d.New) + d.Waiting
	d.New = max(0, d.New-d.Waiting)
	if n := d.Auto + d.New + d.ToReview; n > 0 {
		d.AutoRate = float64(d.Auto+d.New) / float64(n)
	}
	return nil
}

// waitingRecords counts the records with open review items (of up to
// scanCap items).
func waitingRecords(ctx context.Context, ls registry.LinkStore) (int, error) {
	page, err := ls.QueryLinks(ctx, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}, Count: scanCap})
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, k := range page.Links {
		seen[k.Source()] = true
	}
	return len(seen), nil
}

// scoredLinks reads the scored links of typ (up to scanCap, best first).
func scoredLinks(ctx context.Context, ls registry.LinkStore, typ string) ([]*registry.Link, bool, error) {
	var out []*registry.Link
	f := registry.LinkFilter{SourceType: typ, MinScore: 1e-12, SortByScore: true, Count: 1000}
	for len(out) < scanCap {
		page, err := ls.QueryLinks(ctx, f)
		if err != nil {
			return nil, false, err
		}
		out = append(out, page.Links...)
		if len(page.Links) < f.Count {
			return out, false, nil
		}
		f.Offset += f.Count
	}
	return out, true, nil
}

// thresholds returns the current model's version and grade thresholds of typ.
func (s *Server) thresholds(ctx context.Context, typ string) (string, matching.Thresholds) {
	if s.matcher == nil {
		return "", matching.Thresholds{}
	}
	m := s.matcher.Model(ctx)
	if tr := m.Rules().Types[typ]; tr != nil {
		return m.Version, tr.Thresholds
	}
	return m.Version, matching.Thresholds{}
}
