package matching

import "math"

// Match is a scored and explained comparison of two records.
type Match struct {
	// Probability is the posterior probability that the records are the
	// same entity; Weight its log2 odds (the prior's plus every field's).
	Probability, Weight float64
	// Grade is the FHIR match grade ("certain", "probable", "possible", or
	// "" below possible).
	Grade        string
	ModelVersion string
	// Fields holds one Evidence per field of the rules, in rules order.
	Fields []Evidence
}

// Evidence is what one field contributed: the two values compared (display
// form; for a missing field whichever side has one), the level, the rule
// that decided the level and the weight (log2 m/u; 0 when missing).
type Evidence struct {
	Field, Left, Right, Level string
	Rule                      string `json:",omitempty"`
	Weight                    float64
}

// Frequencies gives term frequencies for the term-frequency adjustment of
// exact agreement: agreeing on "smith" is worth less than on "zbigniew".
type Frequencies interface {
	// Frequency returns the share of the type's records that hold value
	// (normalised) in field (a rules field name such as "family"); 0 when
	// unknown.
	Frequency(typ, field, value string) float64
}

// Score returns the match probability of two records of one type (0 for
// records of different or unknown types). tf may be nil (no term-frequency
// adjustment). Score does not allocate.
func (m *Model) Score(a, b *Record, tf Frequencies) float64 {
	t := m.pairType(a, b)
	if t == nil {
		return 0
	}
	var out [maxFields]outcome
	return probability(m.compare(t, a, b, tf, &out))
}

// Explain scores two records like Score (the same probability) and returns
// the evidence field by field. Nil for records of different or unknown types.
func (m *Model) Explain(a, b *Record, tf Frequencies) *Match {
	t := m.pairType(a, b)
	if t == nil {
		return nil
	}
	var out [maxFields]outcome
	w := m.compare(t, a, b, tf, &out)
	p := probability(w)
	res := &Match{Probability: p, Weight: w, Grade: m.Grade(t.typ, p), ModelVersion: m.Version}
	for i := range t.fields {
		res.Fields = append(res.Fields, t.fields[i].evidence(a, b, &out[i]))
	}
	return res
}

func (m *Model) pairType(a, b *Record) *typeModel {
	if a == nil || b == nil || a.Type != b.Type {
		return nil
	}
	for _, t := range m.list {
		if t.typ == a.Type {
			return t
		}
	}
	return nil
}

// probability turns log2 odds into a probability.
func probability(w float64) float64 {
	return 1 / (1 + math.Exp2(-w))
}

// compare fills out with each field's outcome and returns the total log2
// odds: the prior's weight plus every field's.
func (m *Model) compare(t *typeModel, a, b *Record, tf Frequencies, out *[maxFields]outcome) float64 {
	for i := range t.fields {
		out[i] = m.compareField(&t.fields[i], a, b)
	}
	if t.given >= 0 {
		t.swap(a, b, out)
	}
	return t.weigh(a, tf, out)
}

// weigh sets the weight of each outcome and returns the total log2 odds.
// A field with weights given the same household takes those when the
// household field is exact, or (a Location) both records are parts of one
// site; agreement on a term-frequency field is weighed
// by its value's frequency in a (tf may be nil: no adjustment); the twin
// signature, when the outcomes show it, takes over its fields; a field
// that only supports another counts no agreement where that other field
// speaks (FieldRules.Supports); and a veto field's disagreement caps the
// total below certain.
func (t *typeModel) weigh(a *Record, tf Frequencies, out *[maxFields]outcome) float64 {
	sameHousehold := t.household >= 0 && out[t.household].level == Exact ||
		t.partOf >= 0 && out[t.partOf].level == Exact
	veto := false
	for i := range t.fields {
		f, o := &t.fields[i], &out[i]
		switch {
		case f.supports >= 0 && o.level > Different && out[f.supports].level != Missing && out[f.supports].rule != rTownOnly:
			o.weight, o.derived = 0, true
		case sameHousehold && f.inHousehold && o.level != Missing:
			o.weight, o.inHousehold = f.hhWeight[o.level], true
		case o.rule == rTownOnly:
			o.weight = f.town
			if f.tf && tf != nil {
				o.weight = t.tfWeight(f, a, o, tf, f.townM, f.town)
			}
		case f.tf && tf != nil && o.level > Different && !o.swapped:
			o.weight = t.tfWeight(f, a, o, tf, f.m[o.level], f.weight[o.level])
		default:
			o.weight = f.weight[o.level]
		}
		if len(f.byGender) > 0 && o.level > Missing {
			o.weight += t.genderRatio(f, a, out, o.level)
		}
		if f.veto && o.level == Different {
			veto, o.capped = true, true
		}
	}
	if t.twins.on {
		t.twins.apply(out)
	}
	w := t.priorWeight
	for i := range t.fields {
		w += out[i].weight
	}
	if veto {
		w = min(w, t.vetoWeight)
	}
	return w
}

// genderRatio is what the field's m given the gender both records state
// changes in the weight of level l (0 when they do not state one, or the
// rules have no m for it).
func (t *typeModel) genderRatio(f *fieldModel, a *Record, out *[maxFields]outcome, l Level) float64 {
	if t.gender < 0 || out[t.gender].level != Exact || len(a.vals[fGender]) == 0 {
		return 0
	}
	g := a.vals[fGender][0].norm
	for i := range f.byGender {
		if f.byGender[i].gender == g {
			return f.byGender[i].ratio[l]
		}
	}
	return 0
}

// isTwins reports whether outcomes show the twin signature: unrelated given
// names, agreeing family names and the same full birth date.
func (tw *twinModel) isTwins(given, family, birth Level) bool {
	return given == Different && family >= Close && birth == Exact
}

// apply weighs the twin signature, when the outcomes show it, as one level:
// the given field carries the signature's weight, family and birthDate
// none (their agreement is part of it), and the household no agreement
// (twins share one), only disagreement.
func (tw *twinModel) apply(out *[maxFields]outcome) {
	if !tw.isTwins(out[tw.given].level, out[tw.family].level, out[tw.birth].level) {
		return
	}
	out[tw.given].weight, out[tw.given].rule = tw.weight, rTwins
	out[tw.family].weight, out[tw.family].inTwins = 0, true
	out[tw.birth].weight, out[tw.birth].inTwins = 0, true
	if h := tw.household; h >= 0 && out[h].weight > 0 {
		out[h].weight, out[h].inTwins = 0, true
	}
}

// compareField runs the field's comparator.
func (m *Model) compareField(f *fieldModel, a, b *Record) outcome {
	switch f.cmp {
	case cmpName:
		if f.feat == fGiven {
			return compareNames(a.vals[fGiven], b.vals[fGiven], a.middleOnly, b.middleOnly, f)
		}
		return compareNames(a.vals[f.feat], b.vals[f.feat], 0, 0, f)
	case cmpText:
		return compareTexts(a.vals[f.feat], b.vals[f.feat], f)
	case cmpFacility:
		return compareFacilityNames(a.vals[f.feat], b.vals[f.feat], f)
	case cmpExact:
		return compareExact(a.vals[f.feat], b.vals[f.feat])
	case cmpDate:
		l, rule := compareDates(&a.birth, &b.birth)
		return outcome{level: l, rule: rule}
	case cmpIdentifier:
		return compareIdentifiers(a.ids, b.ids, m)
	case cmpDistance:
		return compareDistance(a.pos, b.pos, f)
	case cmpHousehold:
		return compareHousehold(a, b, f)
	case cmpAddress:
		return compareAddresses(a, b, f)
	case cmpPartOf:
		return comparePartOf(a, b)
	}
	return compareCodes(a.vals[f.feat], b.vals[f.feat], f.cmp)
}

// swap recognises given and family names entered the wrong way round: when
// neither agrees closely but each agrees closely with the other crosswise,
// both count as close.
func (t *typeModel) swap(a, b *Record, out *[maxFields]outcome) {
	g, f := &out[t.given], &out[t.family]
	if g.level == Missing || f.level == Missing || g.level >= Close || f.level >= Close {
		return
	}
	gf := compareNames(a.vals[fGiven], b.vals[fFamily], a.middleOnly, 0, &t.fields[t.given])
	if gf.level < Close {
		return
	}
	fg := compareNames(a.vals[fFamily], b.vals[fGiven], 0, b.middleOnly, &t.fields[t.family])
	if fg.level < Close {
		return
	}
	*g = outcome{level: Close, rule: rSwapped, ai: gf.ai, bj: gf.bj, swapped: true}
	*f = outcome{level: Close, rule: rSwapped, ai: fg.ai, bj: fg.bj, swapped: true}
}

// tfWeight returns the weight of the outcome's agreement with u replaced by
// the agreeing value's frequency (see tfValue), bounded below by the type's
// tfMinU, and for exact agreement above by half of m, so that it always
// counts for at least one bit. w is the weight without frequencies, kept
// when the value or its frequency is unknown.
func (t *typeModel) tfWeight(f *fieldModel, a *Record, o *outcome, tf Frequencies, m, w float64) float64 {
	field, value := f.tfValue(a, o)
	if value == "" {
		return w
	}
	u := tf.Frequency(t.typ, field, value)
	if u <= 0 {
		return w
	}
	u = max(u, t.tfMinU)
	if o.level == Exact {
		u = min(u, m/2)
	}
	return math.Log2(m / min(u, 1))
}

// tfValue returns the field and value whose frequency weighs the outcome's
// agreement: the value itself for exact agreement of names, texts and
// codes; the position's key for the same position; for addresses the line
// when the address is the same, the town (or else the postal code) when
// only the town agrees. "" when frequency does not apply.
func (f *fieldModel) tfValue(a *Record, o *outcome) (string, string) {
	switch f.cmp {
	case cmpDistance:
		if o.level == Exact {
			return "position", a.pos.key
		}
	case cmpHousehold, cmpAddress:
		if o.ai < 0 || int(o.ai) >= len(a.addrs) {
			return "", ""
		}
		ref := a.addrs[o.ai]
		switch {
		case o.rule == rSameAddress && ref.line >= 0:
			return "line", a.vals[fLine][ref.line].norm
		case o.rule != rSameTown && o.rule != rTownOnly:
		case ref.city >= 0:
			return "city", a.vals[fCity][ref.city].norm
		case ref.postalCode >= 0:
			return "postalCode", a.vals[fPostalCode][ref.postalCode].norm
		}
	default:
		if o.level == Exact && o.ai >= 0 && int(o.ai) < len(a.vals[f.feat]) {
			return f.name, a.vals[f.feat][o.ai].norm
		}
	}
	return "", ""
}

// evidence renders one field's outcome.
func (f *fieldModel) evidence(a, b *Record, o *outcome) Evidence {
	e := Evidence{Field: f.name, Level: o.level.String(), Rule: o.rule.String(), Weight: o.weight}
	if o.inHousehold {
		e.Rule += "; " + rInHousehold.String()
	}
	if o.inTwins {
		e.Rule += "; " + rInTwins.String()
	}
	if o.capped {
		e.Rule += "; " + rNamesDisagree.String()
	}
	if o.derived {
		e.Rule += "; " + rSupporting.String()
	}
	e.Left, e.Right = f.display(a, int(o.ai), o, true), f.display(b, int(o.bj), o, false)
	return e
}

// display returns the display form of value i of the field in r (the first
// value when i < 0, for a missing comparison); after a swap the left given
// name is compared with the right family name and the other way round.
func (f *fieldModel) display(r *Record, i int, o *outcome, left bool) string {
	i, swapped := max(i, 0), o.swapped
	switch f.feat {
	case fHousehold:
		return householdDisplay(r, i, o.rule)
	case fBirthDate:
		return r.birth.display
	case fIdentifier:
		if i < len(r.ids) {
			return r.ids[i].system + "|" + r.ids[i].display
		}
		return ""
	case fPosition:
		if r.pos.ok {
			return r.pos.String()
		}
		return ""
	}
	feat := f.feat
	switch {
	case swapped && !left && feat == fGiven:
		feat = fFamily
	case swapped && !left && feat == fFamily:
		feat = fGiven
	}
	if vals := r.vals[feat]; i < len(vals) {
		return vals[i].display
	}
	return ""
}
