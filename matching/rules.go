package matching

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

//go:embed rules.json
var defaultRules []byte

// Rules is a parsed match rules file: per resource type the fields to
// compare (with their comparator, thresholds and m/u probabilities per
// level), the blocking keys, the prior and the grade thresholds, and how
// identifier systems are to be read. The embedded default is
// matching/rules.json; a deployment may supply its own.
type Rules struct {
	Name                  string                `json:"name"`
	Doc                   string                `json:"doc,omitempty"`
	IdentifierSystems     []IdentifierSystem    `json:"identifierSystems"`
	DefaultIdentifierKind string                `json:"defaultIdentifierKind"`
	Types                 map[string]*TypeRules `json:"types"`
	Trained               []TrainingNote        `json:"trained,omitempty"`
}

// IdentifierSystem says what kind of identifier a system issues:
// "enterprise" or "national" (one per person: a different value is strong
// disagreement) or "local" (a record number: duplicates inside one system
// have different numbers, so a different value says nothing).
type IdentifierSystem struct {
	System string `json:"system"`
	Kind   string `json:"kind"`
	Doc    string `json:"doc,omitempty"`
}

// MaxKeyCap is the largest keyCap rules may set: the store counts a
// blocking key's records exactly up to registry.KeyCountLimit (10,000),
// which must stay above every cap (TestKeyCapBelowCountLimit in app).
const MaxKeyCap = 9_999

// TypeRules are the rules for one resource type.
type TypeRules struct {
	Doc   string  `json:"doc,omitempty"`
	Prior float64 `json:"prior"`
	// PriorRecords is the registry size Prior (and the twins' U, also a
	// share of all record pairs) is stated for; ForRegistry restates both
	// for another size. 0: they are used as they are.
	PriorRecords int `json:"priorRecords,omitempty"`
	// PriorMinRecords is the smallest registry the prior is restated for:
	// a registry of fewer records is scored as if it held this many (or
	// PriorRecords, if smaller). The prior's premise, about one other
	// record of the same entity per record, is not yet true of a
	// registry's first records (often one source's own, mostly distinct),
	// and restated for a handful of records the prior nears 0.5: any two
	// records with a name in common would link. 0: no floor.
	PriorMinRecords int        `json:"priorMinRecords,omitempty"`
	Thresholds      Thresholds `json:"thresholds"`
	KeyCap          int        `json:"keyCap"`
	// MaxCandidates is the most records one match scores: those sharing
	// the rarest keys, or the most keys, with it (registry.BlockingWeight).
	MaxCandidates int           `json:"maxCandidates"`
	Blocking      []string      `json:"blocking"`
	TFMinimumU    float64       `json:"tfMinimumU"`
	SwapNames     bool          `json:"swapNames,omitempty"`
	Twins         *TwinRules    `json:"twins,omitempty"`
	Fields        []*FieldRules `json:"fields"`
}

// TwinRules weigh the twin signature: unrelated given names (the given
// field different) with agreeing family names (exact or close) and the same
// full birth date. Field by field that pattern looks like a strong match,
// but among unrelated records it is what twins look like, and twins share
// a household too; so when it occurs the given, family and birthDate fields
// are weighed together as one level, log2(M/U), and agreement of the
// household field adds nothing (its disagreement still counts). M is the
// probability of the signature among true duplicates, U among all pairs
// (the share of pairs that are twins).
type TwinRules struct {
	Doc string  `json:"doc,omitempty"`
	M   float64 `json:"m"`
	U   float64 `json:"u"`
}

// Thresholds are the lowest match probabilities of each grade.
type Thresholds struct {
	Certain  float64 `json:"certain"`
	Probable float64 `json:"probable"`
	Possible float64 `json:"possible"`
}

// FieldRules say how one field is compared and what each level weighs.
type FieldRules struct {
	Field     string    `json:"field"`
	Compare   string    `json:"compare"`
	Doc       string    `json:"doc,omitempty"`
	Close     float64   `json:"close,omitempty"`
	Similar   float64   `json:"similar,omitempty"`
	Metric    string    `json:"metric,omitempty"`
	Metres    []float64 `json:"metres,omitempty"`
	Nicknames bool      `json:"nicknames,omitempty"`
	TF        bool      `json:"tf,omitempty"`
	// Veto: when this field disagrees (level different), the match is
	// capped just below the certain threshold: never linked automatically
	// (two sites whose names clearly disagree).
	Veto bool `json:"veto,omitempty"`
	// Supports names another field of the type that this one only
	// supports: this field's agreement counts only when that field cannot
	// be compared (missing on a side) or agrees on the town alone, since it
	// follows from it (a position geocoded from the address says nothing
	// the address has not said, and where the addresses differ a shared
	// position is a geocoder's shared point, such as a town's centroid).
	// Its disagreement always counts.
	Supports string `json:"supports,omitempty"`
	M        Levels `json:"m"`
	U        Levels `json:"u"`
	// USameHousehold, when set, is u among pairs of records of one
	// household: it replaces U (and term frequencies) when the type's
	// household field is exact. Members of a household share more than
	// chance would have them share (a family name above all), so the
	// field's agreement, given the household's, is worth far less.
	USameHousehold *Levels `json:"uSameHousehold,omitempty"`
	// MByGender, when set, holds m for pairs whose records both state one
	// gender (the type's gender field exact), keyed by that gender: it
	// replaces M there. A family name changes at marriage far more often
	// for women than for men, so how much a different family name says
	// depends on whose records they are. Training re-estimates M, not
	// these.
	MByGender map[string]*Levels `json:"mByGender,omitempty"`
}

// Levels holds one probability per comparison level (missing has none).
type Levels struct {
	Exact     float64 `json:"exact,omitempty"`
	Close     float64 `json:"close,omitempty"`
	Similar   float64 `json:"similar,omitempty"`
	Different float64 `json:"different,omitempty"`
}

// get returns the probability of level l.
func (p *Levels) get(l Level) float64 {
	switch l {
	case Exact:
		return p.Exact
	case Close:
		return p.Close
	case Similar:
		return p.Similar
	case Different:
		return p.Different
	}
	return 0
}

// set sets the probability of level l.
func (p *Levels) set(l Level, v float64) {
	switch l {
	case Exact:
		p.Exact = v
	case Close:
		p.Close = v
	case Similar:
		p.Similar = v
	case Different:
		p.Different = v
	}
}

// TrainingNote records one training run in a trained model's rules.
type TrainingNote struct {
	Type           string  `json:"type"`
	Records        int     `json:"records"`
	RandomPairs    int     `json:"randomPairs"`
	CandidatePairs int     `json:"candidatePairs"`
	Iterations     int     `json:"iterations"`
	Converged      bool    `json:"converged"`
	Prior          float64 `json:"prior"`
}

// DefaultRules returns the embedded default rules (matching/rules.json).
func DefaultRules() *Rules {
	r, err := ParseRules(defaultRules)
	if err != nil {
		panic("matching: embedded rules.json is invalid: " + err.Error())
	}
	return r
}

// ParseRules parses and checks a rules file (JSON). Unknown keys, unknown
// fields, comparators, blocking keys and identifier kinds, probabilities
// outside (0, 1] and unordered thresholds are errors that name the place.
func ParseRules(data []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("match rules: %w", err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("match rules: %w", err)
	}
	return &r, nil
}

// clone returns a deep copy of the rules (through JSON: they are plain data).
func (r *Rules) clone() *Rules {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	var c Rules
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

func (r *Rules) check() error {
	if r.Name == "" {
		return fmt.Errorf("name is missing")
	}
	if _, ok := idKinds[r.DefaultIdentifierKind]; !ok {
		return fmt.Errorf("defaultIdentifierKind %q: want one of %s", r.DefaultIdentifierKind, kindList())
	}
	for i, s := range r.IdentifierSystems {
		if _, ok := idKinds[s.Kind]; !ok || s.System == "" {
			return fmt.Errorf("identifierSystems[%d] (%q): kind %q: want a system and one of %s", i, s.System, s.Kind, kindList())
		}
	}
	if len(r.Types) == 0 {
		return fmt.Errorf("types: no resource type")
	}
	for _, typ := range sortedKeys(r.Types) {
		if err := r.Types[typ].check(typ); err != nil {
			return fmt.Errorf("types.%s.%w", typ, err)
		}
	}
	return nil
}

func (t *TypeRules) check(typ string) error {
	if _, ok := typePrefix[typ]; !ok {
		return fmt.Errorf("%s: not a matchable type", typ)
	}
	switch th := t.Thresholds; {
	case !(t.Prior > 0 && t.Prior < 1):
		return fmt.Errorf("prior %g: want 0 < prior < 1", t.Prior)
	case t.PriorRecords < 0 || t.PriorRecords == 1:
		return fmt.Errorf("priorRecords %d: want 0 (not scaled) or at least 2", t.PriorRecords)
	case t.PriorMinRecords < 0:
		return fmt.Errorf("priorMinRecords %d: want 0 (no floor) or more", t.PriorMinRecords)
	case !(0 < th.Possible && th.Possible <= th.Probable && th.Probable <= th.Certain && th.Certain < 1):
		return fmt.Errorf("thresholds: want 0 < possible <= probable <= certain < 1")
	case t.KeyCap < 1 || t.KeyCap > MaxKeyCap:
		return fmt.Errorf("keyCap %d: want 1 to %d", t.KeyCap, MaxKeyCap)
	case t.MaxCandidates < 1:
		return fmt.Errorf("maxCandidates %d: want at least 1", t.MaxCandidates)
	case !(t.TFMinimumU > 0 && t.TFMinimumU < 1):
		return fmt.Errorf("tfMinimumU %g: want 0 < tfMinimumU < 1", t.TFMinimumU)
	case len(t.Fields) == 0 || len(t.Fields) > maxFields:
		return fmt.Errorf("fields: want 1 to %d fields", maxFields)
	}
	for i, k := range t.Blocking {
		if _, ok := blockingKeys[k]; !ok {
			return fmt.Errorf("blocking[%d] %q: want one of %s", i, k, strings.Join(sortedKeys(blockingKeys), ", "))
		}
	}
	seen := map[string]bool{}
	for i, f := range t.Fields {
		if err := f.check(); err != nil {
			return fmt.Errorf("fields[%d] (%s): %w", i, f.Field, err)
		}
		if seen[f.Field] {
			return fmt.Errorf("fields[%d]: field %q compared twice", i, f.Field)
		}
		seen[f.Field] = true
	}
	for i, f := range t.Fields {
		if f.Supports != "" && (f.Supports == f.Field || !slices.ContainsFunc(t.Fields, func(g *FieldRules) bool { return g.Field == f.Supports })) {
			return fmt.Errorf("fields[%d] (%s): supports %q: want another field of the type", i, f.Field, f.Supports)
		}
	}
	return t.checkTwins()
}

// checkTwins checks the twin rules: probabilities in (0, 1] and the fields
// the signature reads.
func (t *TypeRules) checkTwins() error {
	if t.Twins == nil {
		return nil
	}
	if !(t.Twins.M > 0 && t.Twins.M <= 1 && t.Twins.U > 0 && t.Twins.U <= 1) {
		return fmt.Errorf("twins: m %g, u %g: want 0 < p <= 1", t.Twins.M, t.Twins.U)
	}
	for _, need := range []struct{ field, compare string }{{"given", "name"}, {"family", "name"}, {"birthDate", "date"}} {
		if !slices.ContainsFunc(t.Fields, func(f *FieldRules) bool { return f.Field == need.field && f.Compare == need.compare }) {
			return fmt.Errorf("twins: needs the field %q compared by %q", need.field, need.compare)
		}
	}
	return nil
}

func (f *FieldRules) check() error {
	feat, ok := featureByName(f.Field)
	if !ok {
		return fmt.Errorf("unknown field: want one of %s", strings.Join(featureNames[:], ", "))
	}
	c, ok := comparators[f.Compare]
	if !ok {
		return fmt.Errorf("compare %q: want one of %s", f.Compare, strings.Join(sortedKeys(comparators), ", "))
	}
	if !c.accepts(feat) {
		return fmt.Errorf("compare %q cannot compare field %q", f.Compare, f.Field)
	}
	if f.Metric != "" && f.Metric != "dice" && f.Metric != "jaccard" {
		return fmt.Errorf("metric %q: want dice or jaccard", f.Metric)
	}
	if c.thresholds && !(0 < f.Similar && f.Similar <= f.Close && f.Close <= 1) {
		return fmt.Errorf("close %g, similar %g: want 0 < similar <= close <= 1", f.Close, f.Similar)
	}
	if c.kind == cmpDistance && (len(f.Metres) != 3 || !(0 < f.Metres[0] && f.Metres[0] <= f.Metres[1] && f.Metres[1] <= f.Metres[2])) {
		return fmt.Errorf("metres %v: want the ascending maximum distances of exact, close and similar", f.Metres)
	}
	for _, p := range []struct {
		name string
		l    *Levels
	}{{"m", &f.M}, {"u", &f.U}, {"uSameHousehold", f.USameHousehold}} {
		if p.l == nil {
			continue
		}
		if err := c.checkLevels(p.l); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	for g, l := range f.MByGender {
		if l == nil {
			return fmt.Errorf("mByGender %q: no levels", g)
		}
		if err := c.checkLevels(l); err != nil {
			return fmt.Errorf("mByGender %q: %w", g, err)
		}
	}
	return nil
}

// checkLevels checks that every level the comparator gives has a
// probability in (0, 1], no other level has one, and they sum to 1.
func (c comparatorInfo) checkLevels(p *Levels) error {
	sum := 0.0
	for l := Different; l <= Exact; l++ {
		v := p.get(l)
		switch gives := slices.Contains(c.levels, l); {
		case gives && !(v > 0 && v <= 1):
			return fmt.Errorf("%s = %g: want 0 < p <= 1", l, v)
		case !gives && v != 0:
			return fmt.Errorf("%s: this comparator never gives that level", l)
		}
		sum += v
	}
	if math.Abs(sum-1) > 0.01 {
		return fmt.Errorf("probabilities sum to %g, want 1", sum)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
