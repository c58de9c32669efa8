package seed

import (
	"math/rand/v2"
	"strings"
)

// practitionerDraft is a Practitioner record being written.
type practitionerDraft struct {
	names
	prefix, suffix string
	gender, birth  string
	npi, licence   string
	licenceID      bool // the licence is also listed as an identifier
	qualification  int  // 0 none, 1 the degree only, 2 the degree with its licence
	addr           addrDraft
	phones         []phoneDraft
	email          string
	prof           int
}

// practitionerDraft writes what the system of pl records: HR keeps the
// employee's personal details and licence; the EHR the clinical identity
// ("Dr. Jane A. Smith, MD", NPI, department phone); an EHR stub only a name
// and an NPI.
func (g *generator) practitionerDraft(r *rand.Rand, p *practitioner, pl placement) practitionerDraft {
	g.errs = g.errs[:0]
	prof := &professions[p.prof]
	d := practitionerDraft{names: names{given: p.given, family: p.family}, prof: p.prof, gender: p.gender}
	if p.maiden != "" && r.Float64() < 0.3 {
		d.family = p.maiden // one system still has her name from before the marriage
		g.addErr("marriage")
	}
	d.npi = g.carriedID(r, p.npi)
	switch {
	case pl.sys == sysHR:
		d.middle, d.birth, d.licence, d.qualification = p.middle, p.birth, p.licence, 2
		d.addr = addressDraft(r, p.home, sysHR)
		d.addPhone(p.mobile, "mobile", phoneDashes)
		d.addPhone(p.workTel, "work", phoneDashes)
		d.email = p.email
	case pl.copy == 1:
		d.given = initial(d.given) // a referral stub: "J Smith", NPI
	default:
		d.middle = initial(p.middle)
		if prof.doctor && r.Float64() < 0.6 {
			d.prefix = "Dr."
		}
		if r.Float64() < 0.7 {
			d.suffix = prof.code
		}
		if r.Float64() < 0.1 {
			d.npi = "" // not every EHR entry was given the NPI
		}
		if r.Float64() < 0.5 {
			d.licence, d.licenceID = p.licence, true
		}
		if r.Float64() < 0.6 {
			d.qualification = 1
		}
		d.addPhone(p.workTel, "work", phoneParens)
		if r.Float64() < 0.5 {
			d.email = p.email
		}
	}
	return d
}

func (d *practitionerDraft) addPhone(digits, use string, format int) {
	if digits != "" {
		d.phones = append(d.phones, phoneDraft{digits, use, format})
	}
}

var (
	practitionerErrorKinds   = []string{"typo", "transposition", "phonetic", "nickname", "missing", "format", "middle-initial", "truncation", "name-swap"}
	practitionerErrorWeights = []int{20, 10, 8, 10, 20, 15, 5, 2, 2}
)

// practitionerError applies one data-entry error to a practitioner record.
func (g *generator) practitionerError(r *rand.Rand, d *practitionerDraft) {
	for range 4 {
		kind := practitionerErrorKinds[weighted(r, practitionerErrorWeights)]
		ok, known := g.nameError(r, &d.names, kind)
		switch {
		case known:
		case kind == "missing":
			ok = d.dropField(r)
		case kind == "format":
			ok = d.reformat(r)
		}
		if ok {
			g.addErr(kind)
			return
		}
	}
}

func (d *practitionerDraft) dropField(r *rand.Rand) bool {
	fields := []*string{&d.npi, &d.licence, &d.birth, &d.gender, &d.middle, &d.email, &d.prefix}
	start := r.IntN(len(fields))
	for i := range fields {
		if empty(fields[(start+i)%len(fields)]) {
			return true
		}
	}
	return false
}

// reformat changes how the name or credentials are written: "M.D." for
// "MD", "Dr" for "Dr.", capitals, punctuation, a phone format.
func (d *practitionerDraft) reformat(r *rand.Rand) bool {
	options := []func() bool{
		func() bool { return set(&d.family)(strings.ToUpper(d.family), d.family != strings.ToUpper(d.family)) },
		func() bool { return set(&d.family)(stripPunctuation(d.family)) },
		func() bool { return set(&d.family)(asciiFold(d.family)) || set(&d.given)(asciiFold(d.given)) },
		func() bool {
			return len(d.suffix) == 2 && set(&d.suffix)(d.suffix[:1]+"."+d.suffix[1:]+".", true)
		},
		func() bool { return set(&d.prefix)(stripPunctuation(d.prefix)) },
		func() bool {
			if len(d.phones) == 0 {
				return false
			}
			d.phones[0].format = (d.phones[0].format + 1 + r.IntN(phoneFormats-1)) % phoneFormats
			return true
		},
	}
	start := r.IntN(len(options))
	for i := range options {
		if options[(start+i)%len(options)]() {
			return true
		}
	}
	return false
}

// resource turns the draft into the Practitioner system sys holds.
func (d *practitionerDraft) resource(sys int, id string) map[string]any {
	prof := &professions[d.prof]
	res := newResource(TypePractitioner, sys, id)
	idType, idDisplay := "PRN", "Provider number"
	if sys == sysHR {
		idType, idDisplay = "EI", "Employee number"
	}
	ids := []any{identifier(idType, idDisplay, systems[sys].Identifiers[TypePractitioner], id)}
	if d.npi != "" {
		ids = append(ids, identifier("NPI", "National provider identifier", SystemNPI, d.npi))
	}
	if d.licenceID && d.licence != "" {
		ids = append(ids, identifier("LN", "License number", prof.board, d.licence))
	}
	res["identifier"] = ids
	res["active"] = true
	res["name"] = []any{humanName("official", d.family, []string{d.given, d.middle}, d.prefix, d.suffix)}
	var tel []any
	for _, p := range d.phones {
		tel = append(tel, contactPoint("phone", formatPhone(p.digits, p.format), p.use))
	}
	if d.email != "" {
		tel = append(tel, contactPoint("email", d.email, "work"))
	}
	if tel != nil {
		res["telecom"] = tel
	}
	if d.addr.line != nil {
		res["address"] = []any{d.addr.json("home", false)}
	}
	if d.gender != "" {
		res["gender"] = d.gender
	}
	if d.birth != "" {
		res["birthDate"] = d.birth
	}
	if q := d.qualificationJSON(prof); q != nil {
		res["qualification"] = []any{q}
	}
	return res
}

// qualificationJSON is the practitioner's degree, with the licence that
// lets them practise when the system records it.
func (d *practitionerDraft) qualificationJSON(prof *profession) map[string]any {
	if d.qualification == 0 {
		return nil
	}
	q := map[string]any{"code": concept(v2Degree, prof.code, prof.display)}
	if d.qualification == 2 && d.licence != "" {
		q["identifier"] = []any{map[string]any{"system": prof.board, "value": d.licence}}
		q["issuer"] = map[string]any{"display": boardNames[prof.board]}
	}
	return q
}

var boardNames = map[string]string{
	boardMedicine: "Board of Registration in Medicine",
	boardNursing:  "Board of Registration in Nursing",
	boardPA:       "Board of Registration of Physician Assistants",
}
