package matching

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

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
	blocking      []blockKind
	tfMinU        float64
	given, family int // field indexes for the given/family swap, -1 when off
	fields        []fieldModel
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
	mExact         float64            // for term-frequency adjustment
	weight         [numLevels]float64 // log2(m/u); 0 for missing
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
		typ: typ, prefix: typePrefix[typ], thresholds: tr.Thresholds, keyCap: tr.KeyCap,
		priorWeight: math.Log2(tr.Prior / (1 - tr.Prior)), tfMinU: tr.TFMinimumU, given: -1, family: -1,
	}
	for _, k := range tr.Blocking {
		t.blocking = append(t.blocking, blockingKeys[k])
	}
	for i, fr := range tr.Fields {
		f := compileField(fr)
		switch {
		case tr.SwapNames && f.feat == fGiven && f.cmp == cmpName:
			t.given = i
		case tr.SwapNames && f.feat == fFamily && f.cmp == cmpName:
			t.family = i
		}
		t.fields = append(t.fields, f)
	}
	if t.given < 0 || t.family < 0 {
		t.given, t.family = -1, -1
	}
	return t
}

func compileField(fr *FieldRules) fieldModel {
	feat, _ := featureByName(fr.Field)
	f := fieldModel{
		name: fr.Field, feat: feat, cmp: comparators[fr.Compare].kind, close: fr.Close, similar: fr.Similar,
		jaccard: fr.Metric == "jaccard", nicknames: fr.Nicknames, tf: fr.TF, mExact: fr.M.Exact,
	}
	copy(f.metres[:], fr.Metres)
	for l := Different; l <= Exact; l++ {
		if m, u := fr.M.get(l), fr.U.get(l); m > 0 && u > 0 {
			f.weight[l] = math.Log2(m / u)
		}
	}
	return f
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
