package matching

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	"idem/registry"
)

// modelFormat tags persisted models, so that a store can tell a model it
// cannot read from a broken one.
const modelFormat = "idem.matching.model/1"

// Model is a Fellegi-Sunter match model: the rules with their m and u
// probabilities per type, field and level, the priors and thresholds, and
// the weights derived from them. A Model is immutable and safe for
// concurrent use.
type Model struct {
	// Version identifies the model: the rules' name and a digest of every
	// parameter, so that two instances with equal versions score alike.
	Version string

	rules   *Rules
	types   map[string]*typeModel
	list    []*typeModel // the same, for a scan that hashes no string
	systems map[string]idKind
	defKind idKind
}

// typeModel is the compiled model of one resource type.
type typeModel struct {
	typ           string
	prefix        string
	priorWeight   float64 // log2 prior odds
	thresholds    Thresholds
	keyCap        int
	maxCandidates int
	blocking      []blockKind
	tfMinU        float64
	given, family int // field indexes for the given/family swap, -1 when off
	household     int // index of the household field, -1 when none
	partOf        int // index of the partOf field, -1 when none
	gender        int // index of the gender field, -1 when none
	fields        []fieldModel
	twins         twinModel
	vetoWeight    float64 // the most log2 odds a pair may have when a veto field disagrees
}

// twinModel is the compiled twin signature; on is false without one.
type twinModel struct {
	on                              bool
	weight                          float64 // log2(m/u) of the signature
	given, family, birth, household int     // field indexes; household -1 when none
}

// fieldModel is one compiled field.
type fieldModel struct {
	name           string
	feat           feature
	cmp            cmpKind
	close, similar float64
	metres         [3]float64
	jaccard        bool
	nicknames, tf  bool
	veto           bool               // disagreement caps the match below certain
	supports       int                // index of the field this one only supports, -1 when none
	m              [numLevels]float64 // for term-frequency adjustment
	townM          float64            // m of agreement on the town, any level (see rTownOnly)
	town           float64            // log2(townM/townU)
	weight         [numLevels]float64 // log2(m/u); 0 for missing
	inHousehold    bool               // hhWeight is set
	hhWeight       [numLevels]float64 // log2(m/uSameHousehold), used when the household is exact
	byGender       []genderM          // m where both records state one gender (FieldRules.MByGender)
}

// genderM is a field's m given a gender both records state, as the log2
// ratio to the field's m: added to whichever weight the level takes (by
// u, u in one household, or a term frequency), it puts that m in place.
type genderM struct {
	gender string // normalised, as the gender field holds it
	ratio  [numLevels]float64
}

// typePrefix is the type tag that starts each blocking key.
var typePrefix = map[string]string{
	registry.TypePatient:      "P",
	registry.TypePractitioner: "PR",
	registry.TypeLocation:     "L",
}

// NewModel compiles rules (already checked by ParseRules or DefaultRules)
// into a model that scores with the rules' own m, u and priors.
func NewModel(r *Rules) *Model {
	m := &Model{rules: r, types: map[string]*typeModel{}, systems: map[string]idKind{}, defKind: idKinds[r.DefaultIdentifierKind]}
	for _, s := range r.IdentifierSystems {
		m.systems[s.System] = idKinds[s.Kind]
	}
	for typ, tr := range r.Types {
		m.types[typ] = compileType(typ, tr)
		m.list = append(m.list, m.types[typ])
	}
	m.Version = r.Name + "-" + digest(r)
	return m
}

func compileType(typ string, tr *TypeRules) *typeModel {
	t := &typeModel{
		typ: typ, prefix: typePrefix[typ], thresholds: tr.Thresholds, keyCap: tr.KeyCap, maxCandidates: tr.MaxCandidates,
		priorWeight: math.Log2(tr.Prior / (1 - tr.Prior)), tfMinU: tr.TFMinimumU, given: -1, family: -1, household: -1, partOf: -1, gender: -1,
		// just below certain: such a pair goes to a steward at best
		vetoWeight: math.Log2(tr.Thresholds.Certain/(1-tr.Thresholds.Certain)) - 0.01,
	}
	for _, k := range tr.Blocking {
		t.blocking = append(t.blocking, blockingKeys[k])
	}
	for i, fr := range tr.Fields {
		f := compileField(fr)
		if fr.Supports != "" {
			f.supports = slices.IndexFunc(tr.Fields, func(g *FieldRules) bool { return g.Field == fr.Supports })
		}
		switch {
		case tr.SwapNames && f.feat == fGiven && f.cmp == cmpName:
			t.given = i
		case tr.SwapNames && f.feat == fFamily && f.cmp == cmpName:
			t.family = i
		case f.feat == fGender && f.cmp == cmpExact:
			t.gender = i
		case f.cmp == cmpHousehold, f.cmp == cmpAddress:
			// a Location's address plays the household's part: the sites
			// at one address share a switchboard and an organisation
			t.household = i
		case f.cmp == cmpPartOf:
			// the parts of one site (its departments, wards, units) are
			// one campus: they share its switchboard like one address
			t.partOf = i
		}
		t.fields = append(t.fields, f)
	}
	if t.given < 0 || t.family < 0 {
		t.given, t.family = -1, -1
	}
	if tr.Twins != nil {
		t.twins = compileTwins(tr)
	}
	return t
}

// compileTwins finds the fields the twin signature reads (ParseRules has
// checked they exist).
func compileTwins(tr *TypeRules) twinModel {
	tw := twinModel{on: true, weight: math.Log2(tr.Twins.M / tr.Twins.U), household: -1}
	for i, f := range tr.Fields {
		switch {
		case f.Field == "given" && f.Compare == "name":
			tw.given = i
		case f.Field == "family" && f.Compare == "name":
			tw.family = i
		case f.Field == "birthDate" && f.Compare == "date":
			tw.birth = i
		case f.Compare == "household":
			tw.household = i
		}
	}
	return tw
}

func compileField(fr *FieldRules) fieldModel {
	feat, _ := featureByName(fr.Field)
	f := fieldModel{
		name: fr.Field, feat: feat, cmp: comparators[fr.Compare].kind, close: fr.Close, similar: fr.Similar,
		jaccard: fr.Metric == "jaccard", nicknames: fr.Nicknames, tf: fr.TF, veto: fr.Veto, supports: -1,
	}
	copy(f.metres[:], fr.Metres)
	f.weight = weights(&fr.M, &fr.U)
	for l := Different; l <= Exact; l++ {
		f.m[l] = fr.M.get(l)
	}
	// Same town, when nothing finer could be compared, is the event "the
	// town agrees", whose probability is that of every level at or above
	// similar: weighing it as "similar" (same town, not the same street)
	// would take for a disagreement what the records cannot show.
	if f.cmp == cmpHousehold || f.cmp == cmpAddress {
		f.townM = fr.M.Exact + fr.M.Close + fr.M.Similar
		f.town = math.Log2(f.townM / (fr.U.Exact + fr.U.Close + fr.U.Similar))
	}
	if fr.USameHousehold != nil {
		f.inHousehold, f.hhWeight = true, weights(&fr.M, fr.USameHousehold)
	}
	for _, g := range slices.Sorted(maps.Keys(fr.MByGender)) {
		f.byGender = append(f.byGender, genderM{gender: NormalizeCode(g), ratio: weights(fr.MByGender[g], &fr.M)})
	}
	return f
}

// weights returns log2(m/u) per level, 0 for a level without both.
func weights(m, u *Levels) [numLevels]float64 {
	var w [numLevels]float64
	for l := Different; l <= Exact; l++ {
		if m, u := m.get(l), u.get(l); m > 0 && u > 0 {
			w[l] = math.Log2(m / u)
		}
	}
	return w
}

// digest returns a short hex digest of the rules' JSON form.
func digest(r *Rules) string {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Rules returns a copy of the model's rules, with its (possibly trained)
// probabilities.
func (m *Model) Rules() *Rules {
	return m.rules.clone()
}

// EnterpriseSystem reports whether system issues enterprise identifiers:
// one per entity, so two records with the same value are the same entity
// and a different value is a conflict for a steward.
func (m *Model) EnterpriseSystem(system string) bool {
	return m.kindOf(system) == kindEnterprise
}

// kindOf returns the kind of an identifier system.
func (m *Model) kindOf(system string) idKind {
	if k, ok := m.systems[system]; ok {
		return k
	}
	return m.defKind
}

// Grade maps a match probability to a FHIR match grade by the type's
// thresholds: "certain", "probable", "possible", or "" below possible (and
// for a type the model does not know).
func (m *Model) Grade(typ string, p float64) string {
	t := m.types[typ]
	switch {
	case t == nil:
		return ""
	case p >= t.thresholds.Certain:
		return "certain"
	case p >= t.thresholds.Probable:
		return "probable"
	case p >= t.thresholds.Possible:
		return "possible"
	}
	return ""
}

// KeyCap returns the largest number of records that may share one blocking
// key of the type: a key shared by more is capped (reported, not used).
// Zero for an unknown type.
func (m *Model) KeyCap(typ string) int {
	if t := m.types[typ]; t != nil {
		return t.keyCap
	}
	return 0
}

// MaxCandidates returns the most records one match of the type scores.
// Zero for an unknown type.
func (m *Model) MaxCandidates(typ string) int {
	if t := m.types[typ]; t != nil {
		return t.maxCandidates
	}
	return 0
}

// persistedModel is the JSON form of a Model.
type persistedModel struct {
	Format  string          `json:"format"`
	Version string          `json:"version"`
	Rules   json.RawMessage `json:"rules"`
}

// MarshalJSON encodes the model for storage: a format tag, the version and
// the full rules with their probabilities.
func (m *Model) MarshalJSON() ([]byte, error) {
	rules, err := json.Marshal(m.rules)
	if err != nil {
		return nil, err
	}
	return json.Marshal(persistedModel{Format: modelFormat, Version: m.Version, Rules: rules})
}

// UnmarshalModel decodes a model written by MarshalJSON, checking its format
// and rules; the stored version is kept.
func UnmarshalModel(data []byte) (*Model, error) {
	var p persistedModel
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("match model: %w", err)
	}
	if p.Format != modelFormat {
		return nil, fmt.Errorf("match model: format %q, want %q", p.Format, modelFormat)
	}
	r, err := ParseRules(p.Rules)
	if err != nil {
		return nil, fmt.Errorf("match model: %w", err)
	}
	m := NewModel(r)
	if p.Version != "" {
		m.Version = p.Version
	}
	return m, nil
}

// ForRegistry returns the model with the prior of type typ, and the twin
// signature's u, restated for a registry of n records of that type. Both
// are shares of all record pairs: with about d other records of the same
// entity per record the prior is d/(n-1), so a rule stated for
// priorRecords records understates the prior odds of a smaller registry
// and overstates those of a larger one. The model is unchanged (m itself
// is returned) when the rules give no priorRecords, n < 2 (after the
// floor), or typ is unknown. A registry smaller than the rules' priorMinRecords is scored as
// if it held that many. The version stays: it names the parameters, which are the same.
func (m *Model) ForRegistry(typ string, n int) *Model {
	t := m.types[typ]
	tr := m.rules.Types[typ]
	if t == nil || tr == nil || tr.PriorRecords == 0 {
		return m
	}
	n = max(n, min(tr.PriorMinRecords, tr.PriorRecords))
	if n < 2 || n == tr.PriorRecords {
		return m
	}
	scale := float64(tr.PriorRecords-1) / float64(n-1)
	sized := *t
	prior := min(tr.Prior*scale, 0.5)
	sized.priorWeight = math.Log2(prior / (1 - prior))
	if tr.Twins != nil {
		sized.twins.weight = math.Log2(tr.Twins.M / min(tr.Twins.U*scale, 1))
	}
	c := *m
	c.types, c.list = map[string]*typeModel{}, nil
	for _, x := range m.list {
		if x == t {
			x = &sized
		}
		c.types[x.typ] = x
		c.list = append(c.list, x)
	}
	return &c
}
