package ui

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The review queue: the open POSSIBLE_MATCH links (a record and a golden
// record that may be its entity's) and POSSIBLE_DUPLICATE links (two
// Persons that may be one), filtered, sorted and paged.

const queuePageSize = 25

var (
	queueTypes  = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation, registry.TypePerson}
	queueGrades = []string{"certain", "probable", "possible"}
	queueAges   = map[string]time.Duration{"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}
)

// queueForm is the queue's filter and position, as in its URL.
type queueForm struct {
	Type     string // source type; "" any
	Grade    string // certain, probable, possible; "" any
	Min, Max string // score bounds as typed
	System   string // source system of the record
	Age      string // older than: 1d, 7d, 30d; "" any
	Sort     string // "score" (best first) or "" (newest first)
	Offset   int
	min, max float64
}

// readQueueForm reads and checks the queue parameters.
func readQueueForm(get func(string) string) (queueForm, error) {
	f := queueForm{Type: get("type"), Grade: get("grade"), Min: strings.TrimSpace(get("min")), Max: strings.TrimSpace(get("max")),
		System: strings.TrimSpace(get("system")), Age: get("age"), Sort: get("sort"), min: -1, max: -1}
	bad := func(format string, args ...any) (queueForm, error) {
		return f, registry.Errorf(registry.EInvalid, format, args...)
	}
	switch {
	case f.Type != "" && !slices.Contains(queueTypes, f.Type):
		return bad("type %q: want one of %s", f.Type, strings.Join(queueTypes, ", "))
	case f.Grade != "" && !slices.Contains(queueGrades, f.Grade):
		return bad("grade %q: want certain, probable or possible", f.Grade)
	case f.Age != "" && queueAges[f.Age] == 0:
		return bad("age %q: want 1d, 7d or 30d", f.Age)
	case f.Sort != "" && f.Sort != "score":
		return bad("sort %q: want score, or nothing for newest first", f.Sort)
	}
	for _, b := range []struct {
		name, v string
		to      *float64
	}{{"min", f.Min, &f.min}, {"max", f.Max, &f.max}} {
		if b.v == "" {
			continue
		}
		p, err := strconv.ParseFloat(b.v, 64)
		if err != nil || p < 0 || p > 1 {
			return bad("%s score %q: want a number from 0 to 1", b.name, b.v)
		}
		*b.to = p
	}
	if v := get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad("offset %q: want a whole number of at least 0", v)
		}
		f.Offset = n
	}
	return f, nil
}

// values are the filter's parameters (not the offset).
func (f queueForm) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"type": f.Type, "grade": f.Grade, "min": f.Min, "max": f.Max, "system": f.System, "age": f.Age, "sort": f.Sort} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// Encode is the filter as a query string.
func (f queueForm) Encode() string { return f.values().Encode() }

// PageURL is the queue page at offset.
func (f queueForm) PageURL(offset int) string {
	v := f.values()
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	return "/review?" + v.Encode()
}

// At is the URL that opens the queue item at position pos.
func (f queueForm) At(pos int) string {
	v := f.values()
	v.Set("pos", strconv.Itoa(pos))
	return "/review/next?" + v.Encode()
}

// WithSystem is the queue filtered by one source system.
func (f queueForm) WithSystem(sys string) string {
	f.System = sys
	return f.PageURL(0)
}

// filter is the link filter of the form.
func (s *Server) queueFilter(ctx context.Context, f queueForm) registry.LinkFilter {
	lf := registry.LinkFilter{SourceType: f.Type, SortByScore: f.Sort == "score",
		MatchResult: []string{registry.MatchResultPossible, registry.MatchResultPossibleDuplicate}}
	lo, hi := 0.0, 1.0
	if f.Grade != "" {
		typ := f.Type
		if typ == "" || typ == registry.TypePerson {
			typ = registry.TypePatient
		}
		_, th := s.thresholds(ctx, typ)
		switch f.Grade {
		case "certain":
			lo = th.Certain
		case "probable":
			lo, hi = th.Probable, math.Nextafter(th.Certain, 0)
		case "possible":
			lo, hi = th.Possible, math.Nextafter(th.Probable, 0)
		}
	}
	if f.min >= 0 {
		lo = max(lo, f.min)
	}
	if f.max >= 0 {
		hi = min(hi, f.max)
	}
	lf.MinScore = lo
	if hi < 1 {
		lf.MaxScore = max(hi, math.SmallestNonzeroFloat64) // MaxScore 0 means no bound
	}
	if d := queueAges[f.Age]; d > 0 {
		lf.CreatedBefore = s.now().Add(-d)
	}
	return lf
}

// queueLinks returns count queue items from offset and how many the filter
// selects. A source system filter reads the records of up to scanCap items
// (sampled says when there were more).
func (s *Server) queueLinks(ctx context.Context, ls registry.LinkStore, f queueForm, offset, count int) (links []*registry.Link, total int, sampled bool, err error) {
	lf := s.queueFilter(ctx, f)
	if f.System == "" {
		lf.Offset, lf.Count = offset, count
		page, err := ls.QueryLinks(ctx, lf)
		if err != nil {
			return nil, 0, false, err
		}
		return page.Links, page.Total, false, nil
	}
	lf.Count = scanCap
	page, err := ls.QueryLinks(ctx, lf)
	if err != nil {
		return nil, 0, false, err
	}
	refs := make([]string, len(page.Links))
	for i, k := range page.Links {
		refs[i] = k.Source()
	}
	recs, err := s.records(ctx, refs)
	if err != nil {
		return nil, 0, false, err
	}
	var kept []*registry.Link
	for _, k := range page.Links {
		if r := recs[k.Source()]; r != nil && r.System == f.System {
			kept = append(kept, k)
		}
	}
	total = len(kept)
	return kept[min(offset, total):min(offset+count, total)], total, page.Total > len(page.Links), nil
}

type queueItem struct {
	Link    *registry.Link
	Reason  string // why it is in review
	Pos     int
	Source  *record
	Golden  *record
	Compare string
}

type queuePage struct {
	view
	Form       queueForm
	Items      []queueItem
	Total      int
	From, To   int
	Prev, Next string
	Sampled    bool
	Types      []string
	Grades     []string
}

func (s *Server) handleReviewList(c *fiber.Ctx) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	f, err := readQueueForm(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	links, total, sampled, err := s.queueLinks(ctx, ls, f, f.Offset, queuePageSize)
	if err != nil {
		return err
	}
	var refs []string
	for _, k := range links {
		refs = append(refs, k.Source(), k.Golden())
	}
	recs, err := s.records(ctx, refs)
	if err != nil {
		return err
	}
	reasons, err := linkage.ReviewReasons(ctx, ls, links)
	if err != nil {
		return err
	}
	p := queuePage{view: s.baseView(c, "Review queue", "review"), Form: f, Total: total, Sampled: sampled, Types: queueTypes, Grades: queueGrades}
	for i, k := range links {
		pos := f.Offset + i
		p.Items = append(p.Items, queueItem{Link: k, Reason: reasons[k.ID], Pos: pos, Source: recs[k.Source()], Golden: recs[k.Golden()], Compare: compareURL(f, k, pos)})
	}
	if len(links) > 0 {
		p.From, p.To = f.Offset+1, f.Offset+len(links)
	}
	if f.Offset > 0 {
		p.Prev = f.PageURL(max(0, f.Offset-queuePageSize))
	}
	if f.Offset+len(links) < total {
		p.Next = f.PageURL(f.Offset + queuePageSize)
	}
	return s.render(c, fiber.StatusOK, "queue", p)
}

// compareURL opens the comparison of one queue item.
func compareURL(f queueForm, k *registry.Link, pos int) string {
	v := f.values()
	v.Set("source", k.Source())
	v.Set("golden", k.Golden())
	v.Set("pos", strconv.Itoa(pos))
	return "/review/compare?" + v.Encode()
}

// handleReviewNext opens the queue item at pos: after a decision the item
// left the queue, so the same position holds the next one. Past the end it
// goes back to the first; an empty queue shows the list.
func (s *Server) handleReviewNext(c *fiber.Ctx) error {
	ls, _, err := s.linkStore()
	if err != nil {
		return err
	}
	f, err := readQueueForm(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	pos, err := strconv.Atoi(c.Query("pos", "0"))
	if err != nil || pos < 0 {
		return registry.Errorf(registry.EInvalid, "pos %q: want a whole number of at least 0", c.Query("pos"))
	}
	links, total, _, err := s.queueLinks(c.UserContext(), ls, f, pos, 1)
	if err != nil {
		return err
	}
	if len(links) == 0 && total > 0 {
		pos = 0
		if links, _, _, err = s.queueLinks(c.UserContext(), ls, f, 0, 1); err != nil {
			return err
		}
	}
	if len(links) == 0 {
		return redirect(c, f.PageURL(0))
	}
	return redirect(c, compareURL(f, links[0], pos))
}
