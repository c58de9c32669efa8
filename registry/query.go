package registry

import "idem/registry/fhir"

// ParamKind is a FHIR search parameter type.
type ParamKind string

// Search parameter types the registry supports.
const (
	KindString    ParamKind = "string"
	KindToken     ParamKind = "token"
	KindURI       ParamKind = "uri" // stored and compared as a token without system
	KindDate      ParamKind = "date"
	KindReference ParamKind = "reference"
)

// SearchParam describes one search parameter of one resource type.
type SearchParam struct {
	Type        string // resource type
	Name        string // e.g. "family"
	Kind        ParamKind
	Codes       []int16  // storage codes of the index rows it searches (name = family+given+...)
	Column      string   // "id" or "updated" when it searches a resource-table column instead
	Targets     []string // reference target types
	Expression  string   // FHIRPath, for the CapabilityStatement
	Description string
}

// Query is a parsed search: ANDed clauses of ORed values, plus result controls.
type Query struct {
	Type       string
	Clauses    []Clause
	Sort       []SortField
	Count      int
	Summary    string // "" or "count"
	NoTotal    bool   // _total=none
	Include    []IncludeSpec
	RevInclude []IncludeSpec
	Page       string       // opaque cursor
	Issues     []fhir.Issue // warnings about ignored parameters
}

// Clause is one search parameter occurrence; its values are ORed.
type Clause struct {
	Param    *SearchParam
	Modifier string // "", "exact", "contains", "missing", "not"
	Values   []Value
}

// Value is one search value, already parsed for its parameter kind.
type Value struct {
	Raw string
	// string: folded text (Norm) and original (Exact, for :exact)
	Norm  string
	Exact string
	// token: System/Code; HasSystem tells "sys|code" and "|code" (System "")
	// from a bare "code" (any system). Code "" with HasSystem means "sys|".
	System    string
	Code      string
	HasSystem bool
	// date: prefix and the range [Lo, Hi) of the given precision, Unix ms
	Prefix string // eq ne lt gt le ge sa eb
	Lo, Hi int64
	// reference: "Type/id"
	Target string
	// missing modifier: true / false
	Missing bool
}

// SortField is one _sort key.
type SortField struct {
	Name string // _lastUpdated, family, given, name, birthdate
	Desc bool
}

// IncludeSpec is one _include or _revinclude: SourceType:Param[:TargetType].
type IncludeSpec struct {
	Source string
	Param  *SearchParam
	Target string // "" for any
}
