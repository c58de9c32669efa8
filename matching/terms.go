package matching

import "slices"

// termFields are the fields whose values' frequencies scoring asks for
// (fieldModel.tfValue): the name features, an address's line, city and
// postal code, an organisation, and a position.
var termFields = []feature{fGiven, fFamily, fMiddle, fName, fLine, fCity, fPostalCode, fOrganization}

// TermKey is the key under which the store counts the records of typ whose
// field holds value: stored beside a record's blocking keys, so the
// registry's term frequencies are counts the store keeps as records come
// and go, read in one query, and in the matcher's own normal form.
func TermKey(typ, field, value string) string {
	return "tf:" + typ + ":" + field + ":" + value
}

// TermKeys returns the term keys of r's values (see TermKey), sorted and
// distinct.
func (r *Record) TermKeys() []string {
	var keys []string
	for _, f := range termFields {
		for _, v := range r.vals[f] {
			if v.norm != "" {
				keys = append(keys, TermKey(r.Type, featureNames[f], v.norm))
			}
		}
	}
	if r.pos.ok {
		keys = append(keys, TermKey(r.Type, "position", r.pos.key))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
