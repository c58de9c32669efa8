package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"idem/linkage"
	"idem/registry"
)

// record is a source or golden record as the pages show it: plain strings
// taken from the FHIR JSON, which html/template escapes like any text.
type record struct {
	Ref, Type, ID string
	Name          string   // the first name (or a Location's name)
	Names         []string // every name and alias
	Gender        string
	BirthDate     string
	Identifiers   []string
	Telecom       []string
	Address       []string
	Status        string // a Location's status; "inactive" for an inactive record
	System        string // the source system: meta.source without the record's own part
	Updated       time.Time
	Missing       bool // deleted or never stored: only Ref is known
}

// Label is how a record is named in lists.
func (r *record) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Ref
}

// toRecord reads the displayed fields of a resource.
func toRecord(r *registry.Resource) *record {
	out := &record{Ref: r.Type + "/" + r.ID, Type: r.Type, ID: r.ID, Updated: r.LastUpdated}
	body, err := registry.DecodeStored(r)
	if err != nil {
		out.Missing = true
		return out
	}
	return readFields(out, body)
}

// readFields fills in out's displayed fields from a resource's JSON.
func readFields(out *record, body map[string]any) *record {
	for _, n := range list(body["name"]) {
		if s := humanName(n); s != "" {
			out.Names = append(out.Names, s)
		}
	}
	if s := str(body["name"]); s != "" { // a Location's name is a string
		out.Names = append(out.Names, s)
	}
	for _, a := range list(body["alias"]) {
		if s, ok := a.(string); ok {
			out.Names = append(out.Names, s)
		}
	}
	if len(out.Names) > 0 {
		out.Name = out.Names[0]
	}
	out.Gender, out.BirthDate, out.Status = str(body["gender"]), str(body["birthDate"]), str(body["status"])
	if b, ok := body["active"].(bool); ok && !b {
		out.Status = "inactive"
	}
	for _, e := range list(body["identifier"]) {
		out.Identifiers = append(out.Identifiers, identifierText(e))
	}
	for _, e := range list(body["telecom"]) {
		out.Telecom = append(out.Telecom, telecomText(e))
	}
	for _, e := range append(list(body["address"]), body["address"]) {
		if s := addressText(e); s != "" {
			out.Address = append(out.Address, s)
		}
	}
	meta, _ := body["meta"].(map[string]any)
	out.System = sourceSystem(out.Type, str(meta["source"]))
	return out
}

// sourceSystem is meta.source without the record's own "/Type/id" part
// (and any "#" suffix): the system the record comes from.
func sourceSystem(typ, src string) string {
	src, _, _ = strings.Cut(src, "#")
	if i := strings.LastIndex(src, "/"+typ+"/"); i > 0 && !strings.Contains(src[i+len(typ)+2:], "/") {
		return src[:i]
	}
	return src
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func humanName(v any) string {
	n, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if t := str(n["text"]); t != "" {
		return t
	}
	var parts []string
	for _, k := range []string{"prefix", "given"} {
		for _, p := range list(n[k]) {
			parts = append(parts, str(p))
		}
	}
	if f := str(n["family"]); f != "" {
		parts = append(parts, f)
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " ")
}

func identifierText(v any) string {
	id, _ := v.(map[string]any)
	val, sys := str(id["value"]), str(id["system"])
	if sys == "" {
		return val
	}
	return val + " (" + sys + ")"
}

func telecomText(v any) string {
	t, _ := v.(map[string]any)
	if sys := str(t["system"]); sys != "" {
		return sys + ": " + str(t["value"])
	}
	return str(t["value"])
}

func addressText(v any) string {
	a, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if t := str(a["text"]); t != "" {
		return t
	}
	var parts []string
	for _, l := range list(a["line"]) {
		parts = append(parts, str(l))
	}
	for _, k := range []string{"city", "state", "postalCode", "country"} {
		parts = append(parts, str(a[k]))
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), ", ")
}

// records reads the current versions of refs ("Type/id"), one search per
// type; refs that are gone come back marked Missing.
func (s *Server) records(ctx context.Context, refs []string) (map[string]*record, error) {
	byType := map[string][]string{}
	out := map[string]*record{}
	for _, ref := range refs {
		r, err := registry.ParseRef(ref)
		if err != nil || !registry.IsType(r.Type) || out[ref] != nil {
			continue
		}
		out[ref] = &record{Ref: ref, Type: r.Type, ID: r.ID, Missing: true}
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	for typ, ids := range byType {
		for chunk := range slices.Chunk(ids, registry.MaxCount) {
			q := url.Values{"_id": {strings.Join(chunk, ",")}, "_count": {strconv.Itoa(len(chunk))}}
			_, res, err := s.registry.Search(ctx, typ, q, true)
			if err != nil {
				return nil, err
			}
			for _, r := range res.Matches {
				out[r.Type+"/"+r.ID] = toRecord(r)
			}
		}
	}
	return out, nil
}

// goldenURL is the page of a golden record ("" when it has none).
func goldenURL(ref string) string {
	r, _ := registry.ParseRef(ref) // a malformed ref has no page
	switch r.Type {
	case registry.TypePerson:
		return "/person/" + url.PathEscape(r.ID)
	case registry.TypeLinkage:
		return "/linkage/" + url.PathEscape(r.ID)
	}
	return ""
}

// goldenOf returns the golden record each source record is linked to
// (MATCH), by "Type/id".
func (s *Server) goldenOf(ctx context.Context, ls registry.LinkStore, refs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range refs {
		r, err := registry.ParseRef(ref)
		if err != nil {
			continue // links only ever name Type/id
		}
		page, err := ls.QueryLinks(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: r.ID, MatchResult: []string{registry.MatchResultMatch}, Count: 1})
		if err != nil {
			return nil, err
		}
		if len(page.Links) > 0 {
			out[ref] = page.Links[0].Golden()
		}
	}
	return out, nil
}

// now is the registry's clock.
func (s *Server) now() time.Time {
	return s.registry.Now()
}

// linkStore returns the link store and the linker, or EMethod when this
// server does not link.
func (s *Server) linkStore() (registry.LinkStore, *linkage.Linker, error) {
	if s.linker == nil {
		return nil, nil, registry.Errorf(registry.EMethod, "linking is not available on this server")
	}
	return s.linker.Links(), s.linker, nil
}

func urlEscape(s string) string { return url.QueryEscape(s) }

// formatScore is a match probability as the pages show it.
func formatScore(p float64) string { return strconv.FormatFloat(p, 'f', 4, 64) }

// funcs are the template functions.
func (u *ui) funcs() template.FuncMap {
	return template.FuncMap{
		"static":    u.staticURL,
		"golden":    goldenURL,
		"score":     formatScore,
		"pct":       func(p float64) string { return strconv.FormatFloat(100*p, 'f', 1, 64) + " %" },
		"weight":    func(w float64) string { return fmt.Sprintf("%+.2f", w) },
		"when":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"ago":       ago,
		"join":      strings.Join,
		"evidence":  evidenceClass,
		"lower":     strings.ToLower,
		"add":       func(a, b int) int { return a + b },
		"query":     urlEscape,
		"linkClass": linkClass,
		"bar":       weightBar,
	}
}

// bar is a weight drawn as a bar from 0 in a viewBox from -10 to 10.
type bar struct {
	X, W  float64
	Class string
}

func weightBar(w float64) bar {
	w = math.Max(-10, math.Min(10, w))
	if w < 0 {
		return bar{X: w, W: -w, Class: "neg"}
	}
	return bar{X: 0, W: w, Class: "pos"}
}

// ago says how long ago t was, coarsely.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " d ago"
}

// evidenceClass colours one field of the evidence: what it added to the
// score (agreement), took away (disagreement), or nothing.
func evidenceClass(level string, w float64) string {
	switch {
	case level == "missing":
		return "ev-missing"
	case w > 0.05:
		return "ev-agree"
	case w < -0.05:
		return "ev-disagree"
	}
	return "ev-neutral"
}

// linkClass colours a match result.
func linkClass(result string) string {
	switch result {
	case registry.MatchResultMatch:
		return "res-match"
	case registry.MatchResultNoMatch:
		return "res-nomatch"
	case registry.MatchResultPossible, registry.MatchResultPossibleDuplicate:
		return "res-review"
	}
	return "res-other"
}

// agreement compares a value of a candidate with the record's: the class
// of its cell in the side-by-side view. With partial, values sharing a
// word (names, addresses) are a partial agreement.
func agreement(mine, theirs []string, partial bool) string {
	// Case, spaces and punctuation do not make values differ:
	// "(857) 200-3590" is "857-200-3590".
	norm := func(xs []string) []string {
		var out []string
		for _, x := range xs {
			x = strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' {
					return unicode.ToLower(r)
				}
				return -1
			}, x)
			if x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	a, b := norm(mine), norm(theirs)
	switch {
	case len(a) == 0 || len(b) == 0:
		return "cell-missing"
	case slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) }):
		return "cell-agree"
	case partial && sharesWord(mine, theirs):
		return "cell-partial"
	}
	return "cell-disagree"
}

// sharesWord reports whether two value lists have a word of two or more
// letters in common ("Nathan J Carlley" and "Nathan Jonathan Carlley").
func sharesWord(a, b []string) bool {
	words := map[string]bool{}
	for _, x := range a {
		for _, w := range strings.FieldsFunc(strings.ToLower(x), isSeparator) {
			if len(w) > 1 {
				words[w] = true
			}
		}
	}
	for _, x := range b {
		for _, w := range strings.FieldsFunc(strings.ToLower(x), isSeparator) {
			if words[w] {
				return true
			}
		}
	}
	return false
}

func isSeparator(r rune) bool {
	return r == ' ' || r == ',' || r == '-' || r == '(' || r == ')' || r == '/' || r == '.'
}
