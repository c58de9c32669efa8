package linkage

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"idem/registry"
	"idem/registry/fhir"
)

// Extension and code system URLs of golden records.
const (
	// ValueSourceURL marks each golden value with the record it came from.
	ValueSourceURL = "https://idem.dev/fhir/StructureDefinition/value-source"
	// ReplacedByURL marks the Person.link of a merged-away Person that
	// points to the Person it was merged into.
	ReplacedByURL = "https://idem.dev/fhir/StructureDefinition/replaced-by"
	// GoldenTagSystem tags golden records (code GOLDEN_RECORD), which idem
	// alone writes.
	GoldenTagSystem = "https://idem.dev/fhir/CodeSystem/mdm"
	// PersonIDSystem is the enterprise identifier idem gives every Person.
	PersonIDSystem = "urn:idem:person"
)

//go:embed survivorship.json
var defaultSurvivorship []byte

// Survivorship holds the declarative rules that choose a Person's golden
// demographics (survivorship.json).
type Survivorship struct {
	Doc            string            `json:"doc,omitempty"`
	TrustedSources []string          `json:"trustedSources"`
	Fields         map[string]string `json:"fields"`
}

var strategies = []string{"most-recent", "most-frequent", "most-trusted", "longest", "union"}

// ParseSurvivorship parses and checks survivorship rules.
func ParseSurvivorship(data []byte) (*Survivorship, error) {
	var s Survivorship
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("survivorship rules: %w", err)
	}
	for _, f := range personFields {
		st, ok := s.Fields[f]
		if !ok {
			return nil, fmt.Errorf("survivorship rules: fields.%s: missing", f)
		}
		if !slices.Contains(strategies, st) {
			return nil, fmt.Errorf("survivorship rules: fields.%s %q: want one of %s", f, st, strings.Join(strategies, ", "))
		}
	}
	return &s, nil
}

// DefaultSurvivorship returns the embedded rules.
func DefaultSurvivorship() *Survivorship {
	s, err := ParseSurvivorship(defaultSurvivorship)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return s
}

// personFields are the Person elements filled from linked records.
var personFields = []string{"name", "gender", "birthDate", "address", "telecom", "identifier"}

// sourceRecord is one linked record as survivorship sees it.
type sourceRecord struct {
	ref     string
	body    map[string]any
	updated time.Time
	trust   int // index in trustedSources; len(trustedSources) when absent
}

// rebuild rewrites a golden record from its MATCH links; it writes a new
// version only when the content changes. g is what the decisions that
// touched it know: a golden record they created is stored without reading
// a prior version, and the records their writes stored are taken from the
// bodies in hand.
func (l *Linker) rebuild(ctx context.Context, ltx registry.Tx, golden string, g *goldenSet) error {
	gtype, gid, _ := strings.Cut(golden, "/")
	fresh := g.fresh[golden]
	var links, redirect []*registry.Link
	if fresh && g.puts != nil {
		for _, k := range g.puts {
			if k.Golden() == golden && k.MatchResult == registry.MatchResultMatch {
				links = append(links, k)
			}
		}
	} else {
		var err error
		if links, err = ltx.Links(ctx, registry.LinkFilter{GoldenType: gtype, GoldenID: gid, MatchResult: []string{registry.MatchResultMatch}}); err != nil {
			return err
		}
		if !fresh {
			if redirect, err = ltx.Links(ctx, registry.LinkFilter{SourceType: gtype, SourceID: gid, MatchResult: []string{registry.MatchResultRedirect}}); err != nil {
				return err
			}
		}
	}
	var recs []sourceRecord
	var kept []*registry.Link
	for _, k := range links {
		r, err := g.read(ctx, ltx, k.SourceType, k.SourceID)
		if err != nil || r.Deleted {
			continue
		}
		body := g.body(k.Source())
		if body == nil {
			if body, err = registry.DecodeStored(r); err != nil {
				return err
			}
		}
		recs = append(recs, sourceRecord{ref: k.Source(), body: body, updated: r.LastUpdated, trust: l.trust(k.SourceType, body)})
		kept = append(kept, k)
	}
	var body map[string]any
	switch {
	case g.retire[golden] && len(links) == 0 && len(redirect) == 0:
		// An undone decision created it, and nothing links to it now.
	case gtype == registry.TypePerson:
		body = l.person(gid, recs, kept, redirect)
	default:
		body = linkage(recs, kept)
	}
	if fresh {
		if body == nil {
			return nil
		}
		_, err := l.w.Create(ctx, ltx, gtype, gid, body)
		return err
	}
	return l.write(ctx, ltx, g, gtype, gid, body)
}

// write stores body as gtype/gid unless its current version (as g reads
// it) says the same; nil deletes it.
func (l *Linker) write(ctx context.Context, ltx registry.Tx, g *goldenSet, gtype, gid string, body map[string]any) error {
	cur, err := g.read(ctx, ltx, gtype, gid)
	delete(g.reads, gtype+"/"+gid) // written now: what g read of it is stale
	exists := err == nil && !cur.Deleted
	if err != nil && registry.ErrorCode(err) != registry.ENotFound {
		return err
	}
	if body == nil {
		if exists {
			_, err = l.w.Delete(ctx, ltx, gtype, gid)
			return err
		}
		return nil // never stored (a Linkage whose first item a re-match links before its second)
	}
	if exists {
		return l.writeOver(ctx, ltx, cur, gtype, gid, body)
	}
	if cur == nil || !cur.Deleted {
		cur = nil // never stored
	}
	_, err = l.w.Replace(ctx, ltx, cur, gtype, gid, body)
	return err
}

// writeOver stores body as the next version over cur, the current version
// (not deleted), unless cur says the same.
func (l *Linker) writeOver(ctx context.Context, ltx registry.Tx, cur *registry.Resource, gtype, gid string, body map[string]any) error {
	old, err := registry.DecodeStored(cur)
	if err != nil {
		return err
	}
	if sameContent(old, body) {
		return nil
	}
	_, err = l.w.Replace(ctx, ltx, cur, gtype, gid, body)
	return err
}

// sameContent compares two resources ignoring meta's versionId and lastUpdated.
func sameContent(a, b map[string]any) bool {
	strip := func(m map[string]any) []byte {
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		if meta, ok := m["meta"].(map[string]any); ok {
			mc := map[string]any{}
			for k, v := range meta {
				if k != "versionId" && k != "lastUpdated" {
					mc[k] = v
				}
			}
			c["meta"] = mc
		}
		delete(c, "id")
		return fhir.MarshalResource(c)
	}
	return bytes.Equal(strip(a), strip(b))
}

// trust ranks a record by its source system in trustedSources.
func (l *Linker) trust(typ string, body map[string]any) int {
	base := sourceBase(typ, body)
	if i := slices.Index(l.cfg.Survivorship.TrustedSources, base); i >= 0 && base != "" {
		return i
	}
	return len(l.cfg.Survivorship.TrustedSources)
}

func goldenMeta() map[string]any {
	return map[string]any{"tag": []any{map[string]any{"system": GoldenTagSystem, "code": "GOLDEN_RECORD", "display": "Golden record"}}}
}

func assurance(k *registry.Link) string {
	if k.LinkSource == registry.LinkSourceManual {
		return "level4"
	}
	return "level3"
}

func sourceExt(ref string) []any {
	return []any{map[string]any{"url": ValueSourceURL, "valueReference": map[string]any{"reference": ref}}}
}

// person builds a Person from its linked records by the survivorship
// rules. A Person with no records left is retired (active false); one
// merged into another points to it.
func (l *Linker) person(id string, recs []sourceRecord, links []*registry.Link, redirect []*registry.Link) map[string]any {
	p := map[string]any{"resourceType": registry.TypePerson, "id": id, "meta": goldenMeta(), "active": len(recs) > 0}
	ids := []any{map[string]any{"system": PersonIDSystem, "value": id}}
	// Most recent first: every strategy breaks ties that way.
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].updated.After(recs[j].updated) })
	for _, f := range personFields {
		switch f {
		case "gender", "birthDate":
			if v, src := choosePrimitive(l.cfg.Survivorship.Fields[f], f, recs); v != "" {
				p[f] = v
				p["_"+f] = map[string]any{"extension": sourceExt(src)}
			}
		case "identifier":
			ids = append(ids, chooseList(l.cfg.Survivorship.Fields[f], f, recs)...)
		default:
			if vs := chooseList(l.cfg.Survivorship.Fields[f], f, recs); len(vs) > 0 {
				p[f] = vs
			}
		}
	}
	p["identifier"] = ids
	var out []any
	for _, k := range links {
		out = append(out, map[string]any{"target": map[string]any{"reference": k.Source()}, "assurance": assurance(k)})
	}
	for _, k := range redirect {
		out = append(out, map[string]any{"extension": []any{map[string]any{"url": ReplacedByURL, "valueBoolean": true}},
			"target": map[string]any{"reference": k.Golden()}, "assurance": "level4"})
	}
	if len(out) > 0 {
		p["link"] = out
	}
	return p
}

// choosePrimitive picks one value of a primitive field and its record.
func choosePrimitive(strategy, field string, recs []sourceRecord) (string, string) {
	var vals []string
	var srcs []string
	for _, r := range recs {
		if v := registry.AsString(r.body[field]); v != "" {
			vals, srcs = append(vals, v), append(srcs, r.ref)
		}
	}
	if len(vals) == 0 {
		return "", ""
	}
	i := pick(strategy, vals, recs, srcs)
	return vals[i], srcs[i]
}

// MaxGoldenValues bounds each repeating element of a golden record: a
// union over fifty records of a hundred identifiers each would otherwise
// grow a Person to megabytes that every later link rewrites.
const MaxGoldenValues = 50

// chooseList picks the elements of a repeating field: all distinct ones
// for union, else every element of the one record the strategy picks; at
// most MaxGoldenValues, the most recent records' first.
func chooseList(strategy, field string, recs []sourceRecord) []any {
	var out []any
	seen := map[string]bool{}
	add := func(e any, ref string) {
		obj, ok := e.(map[string]any)
		if !ok || len(out) >= MaxGoldenValues {
			return
		}
		c := make(map[string]any, len(obj)+1)
		for k, v := range obj {
			if k != "extension" && k != "id" {
				c[k] = v
			}
		}
		key := sameValueKey(field, c)
		if seen[key] {
			return
		}
		seen[key] = true
		c["extension"] = sourceExt(ref)
		out = append(out, c)
	}
	if strategy == "union" {
		for _, r := range recs {
			list, _ := r.body[field].([]any)
			for _, e := range list {
				add(e, r.ref)
			}
		}
		return out
	}
	var vals, srcs []string
	var lists [][]any
	for _, r := range recs {
		list, _ := r.body[field].([]any)
		if len(list) > 0 {
			vals = append(vals, string(fhir.MarshalResource(map[string]any{"v": list})))
			srcs = append(srcs, r.ref)
			lists = append(lists, list)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	i := pick(strategy, vals, recs, srcs)
	for _, e := range lists[i] {
		add(e, srcs[i])
	}
	return out
}

// sameValueKey says when two elements are one value: identifiers by
// system and value, telecoms by system and the value as dialled or
// addressed (digits of a phone number, an e-mail address in lower case),
// anything else by its whole content.
func sameValueKey(field string, e map[string]any) string {
	sys, val := registry.AsString(e["system"]), strings.TrimSpace(registry.AsString(e["value"]))
	switch field {
	case "identifier":
		return sys + "|" + val
	case "telecom":
		if sys == "phone" || sys == "sms" || sys == "fax" || sys == "pager" {
			val = strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, val)
		}
		return sys + "|" + strings.ToLower(val)
	}
	return string(fhir.MarshalResource(e))
}

// pick applies a strategy to candidate values (in most-recent-first order,
// each from the record srcs names) and returns the chosen index.
func pick(strategy string, vals []string, recs []sourceRecord, srcs []string) int {
	switch strategy {
	case "most-frequent":
		best, n := 0, 0
		for i, v := range vals {
			c := 0
			for _, w := range vals {
				if w == v {
					c++
				}
			}
			if c > n {
				best, n = i, c
			}
		}
		return best
	case "longest":
		best := 0
		for i, v := range vals {
			if len(v) > len(vals[best]) {
				best = i
			}
		}
		return best
	case "most-trusted":
		trust := map[string]int{}
		for _, r := range recs {
			trust[r.ref] = r.trust
		}
		best := 0
		for i := range vals {
			if trust[srcs[i]] < trust[srcs[best]] {
				best = i
			}
		}
		return best
	}
	return 0 // most-recent
}

// linkage builds a Linkage over linked Locations: the most trusted (then
// the earliest linked) active record is the source, other active ones
// alternates, inactive ones historical. With fewer than two records left
// it is deleted (a Linkage needs two items).
func linkage(recs []sourceRecord, links []*registry.Link) map[string]any {
	if len(recs) < 2 {
		return nil
	}
	type item struct {
		ref     string
		active  bool
		trust   int
		created time.Time
	}
	items := make([]item, len(recs))
	for i, r := range recs {
		items[i] = item{ref: r.ref, active: registry.AsString(r.body["status"]) != "inactive", trust: r.trust, created: links[i].Created}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.active != b.active {
			return a.active
		}
		if a.trust != b.trust {
			return a.trust < b.trust
		}
		return a.created.Before(b.created)
	})
	var out []any
	for i, it := range items {
		typ := "alternate"
		switch {
		case !it.active:
			typ = "historical"
		case i == 0:
			typ = "source"
		}
		out = append(out, map[string]any{"type": typ, "resource": map[string]any{"reference": it.ref}})
	}
	return map[string]any{"resourceType": registry.TypeLinkage, "meta": goldenMeta(), "active": true, "item": out}
}
