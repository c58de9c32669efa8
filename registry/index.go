package registry

// Index holds the search-index rows extracted from one resource version.
// The store writes them in the same transaction as the resource.
type Index struct {
	Strings []StringKey
	Tokens  []TokenKey
	Dates   []DateKey
	Refs    []RefKey
	Sort    SortKeys
	// MatchKeys are the matcher's blocking keys: records that share a key
	// are compared when one of them is matched.
	MatchKeys []string
	// MatchRecord is the matcher's compact form of the version's
	// features, scored when the record is someone's candidate.
	MatchRecord []byte
	// MatchTerms are the version's term keys (the values whose
	// frequencies scoring asks for); the store counts the current
	// versions holding each (CountTerms). Kept only with a MatchRecord.
	MatchTerms []string
}

// StringKey is a string search value. Norm is folded (lower case, no
// diacritics, collapsed spaces) for the default and :contains searches;
// Exact is the original text for :exact.
type StringKey struct {
	Param int16 // SearchParam storage code
	Norm  string
	Exact string
}

// TokenKey is a token search value (Identifier, Coding, code, boolean,
// ContactPoint). System is "" when the element has none.
type TokenKey struct {
	Param  int16
	System string
	Code   string
}

// DateKey is the range a date, dateTime, instant or Period covers, in Unix
// milliseconds: Lo inclusive, Hi exclusive ("1990" covers all of 1990).
type DateKey struct {
	Param int16
	Lo    int64
	Hi    int64
}

// RefKey is a reference search value, always "Type/id" relative to this server.
type RefKey struct {
	Param  int16
	Target string
}

// SortKeys are the per-resource values used by _sort: folded strings, and the
// birth date as "YYYY-MM-DD" ("" when absent).
type SortKeys struct {
	Family    string
	Given     string
	Name      string
	Birthdate string
}
