package matching

// feature names one kind of value a Record holds; a rules field compares
// one feature.
type feature uint8

const (
	fGiven feature = iota
	fFamily
	fName // Location name and aliases
	fBirthDate
	fGender
	fLine
	fCity
	fPostalCode
	fState
	fCountry
	fPhone
	fEmail
	fIdentifier
	fQualification
	fPosition
	fType
	fOrganization
	fHousehold // address and phone together: no values of its own
	fMiddle    // middle names: the given names after the first of a name
	fMobile    // personal phone numbers (use mobile, or system sms)
	fPartOf    // the Location a Location is part of (a reference key)
	numFeatures
)

// featureNames are the feature names used in the rules file, in evidence
// and by Frequencies.
var featureNames = [numFeatures]string{
	"given", "family", "name", "birthDate", "gender", "line", "city", "postalCode",
	"state", "country", "phone", "email", "identifier", "qualification", "position",
	"type", "organization", "household", "middle", "mobile", "partOf",
}

// featureByName returns the feature with the given rules name.
func featureByName(name string) (feature, bool) {
	for f, n := range featureNames {
		if n == name {
			return feature(f), true
		}
	}
	return 0, false
}

// phoneticFeatures are the features whose values get phonetic codes: the
// name comparator needs them, and computing them for other text would be
// wasted work.
func (f feature) phonetic() bool {
	return f == fGiven || f == fFamily || f == fName || f == fCity || f == fMiddle
}

// numPhonetic is the number of phonetic features, and phoneticSlot their
// index in Record.codes (-1 for the others): a Record keeps no list of
// codes for the features that have none.
const numPhonetic = 5

var phoneticSlot = func() (slot [numFeatures]int8) {
	n := int8(0)
	for f := range numFeatures {
		slot[f] = -1
		if f.phonetic() {
			slot[f], n = n, n+1
		}
	}
	if n != numPhonetic {
		panic("matching: numPhonetic is not the number of phonetic features")
	}
	return slot
}()

// codesOf returns the phonetic codes of a phonetic feature's values.
func (r *Record) codesOf(f feature) []phonetics { return r.codes[phoneticSlot[f]] }

// stringValued reports whether the feature's values are texts (as opposed to
// a date, identifiers or a position).
func (f feature) stringValued() bool {
	return f != fBirthDate && f != fIdentifier && f != fPosition && f != fHousehold
}

// Level is the outcome of comparing one field of two records, from no
// information to full agreement.
type Level uint8

// The comparison levels, weakest first. Missing (a value absent on either
// side) always weighs 0.
const (
	Missing Level = iota
	Different
	Similar
	Close
	Exact
	numLevels
)

// levelNames are the levels' names in rules, evidence and reports.
var levelNames = [numLevels]string{"missing", "different", "similar", "close", "exact"}

// String returns the level's name.
func (l Level) String() string {
	if l < numLevels {
		return levelNames[l]
	}
	return "invalid"
}
