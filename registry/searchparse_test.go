package registry

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"idem/registry/fhir"
)

// mustParam returns a search parameter that the table must have.
func mustParam(tb testing.TB, typ, name string) *SearchParam {
	tb.Helper()
	sp := LookupParam(typ, name)
	if sp == nil {
		tb.Fatalf("no search parameter %s.%s", typ, name)
	}
	return sp
}

// mustRange returns the DateRange of a valid date.
func mustRange(tb testing.TB, s string) (lo, hi int64) {
	tb.Helper()
	lo, hi, err := fhir.DateRange(s)
	if err != nil {
		tb.Fatal(err)
	}
	return lo, hi
}

// queryTest is one ParseQuery case: a query string on typ and either the
// Query (built by want, which gets the type's parameters) or an error.
type queryTest struct {
	name, typ, query string
	strict           bool
	want             func(t *testing.T, p func(string) *SearchParam) *Query
	errExpr, errMsg  string // the issue of the expected EInvalid error
}

func runQueryTests(t *testing.T, tests []queryTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			if typ == "" {
				typ = TypePatient
			}
			params, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseQuery(typ, params, tt.strict)
			if tt.want == nil {
				checkQueryError(t, err, tt.errExpr, tt.errMsg)
				return
			}
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", tt.query, err)
			}
			p := func(name string) *SearchParam { return mustParam(t, typ, name) }
			if diff := cmp.Diff(tt.want(t, p), got); diff != "" {
				t.Errorf("ParseQuery(%q) (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

// checkQueryError checks that err is an EInvalid *Error with one issue on
// expression whose diagnostics are msg.
func checkQueryError(t *testing.T, err error, expr, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != EInvalid || len(e.Issues) != 1 {
		t.Fatalf("error %#v, want one EInvalid issue", err)
	}
	if iss := e.Issues[0]; iss.Diagnostics != msg || len(iss.Expression) != 1 || iss.Expression[0] != expr {
		t.Errorf("issue %q at %v, want %q at %s", iss.Diagnostics, iss.Expression, msg, expr)
	}
}

// warning is the issue ParseQuery adds for what it ignores.
func warning(expr, code, msg string) fhir.Issue {
	return fhir.Issue{Severity: fhir.SeverityWarning, Code: code, Diagnostics: msg, Expression: []string{expr}}
}

func TestParseQueryString(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "default, exact and contains", query: "family=M%C3%BCller&given:exact=O'Brien&name:contains=ANN",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("family"), Values: []Value{{Raw: "Müller", Norm: "muller", Exact: "Müller"}}},
				{Param: p("given"), Modifier: "exact", Values: []Value{{Raw: "O'Brien", Norm: "o'brien", Exact: "O'Brien"}}},
				{Param: p("name"), Modifier: "contains", Values: []Value{{Raw: "ANN", Norm: "ann", Exact: "ANN"}}},
			}}
		},
	}, {
		name: "or, escaped comma, and", query: `given=a\,b,c&given=d&address-city=x,,`,
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("address-city"), Values: []Value{{Raw: "x", Norm: "x", Exact: "x"}}},
				{Param: p("given"), Values: []Value{{Raw: `a\,b`, Norm: "a,b", Exact: "a,b"}, {Raw: "c", Norm: "c", Exact: "c"}}},
				{Param: p("given"), Values: []Value{{Raw: "d", Norm: "d", Exact: "d"}}},
			}}
		},
	}, {
		name: "empty and blank values are ignored", query: "family=&given=,,&name=+&address=&_count=",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20}
		},
	}, {
		name: "missing", query: "family:missing=true&address-state:missing=false",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("address-state"), Modifier: "missing", Values: []Value{{Raw: "false"}}},
				{Param: p("family"), Modifier: "missing", Values: []Value{{Raw: "true", Missing: true}}},
			}}
		},
	}, {
		name: "location name and address", typ: TypeLocation, query: "name=Coffey&address-country=US",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypeLocation, Count: 20, Clauses: []Clause{
				{Param: p("address-country"), Values: []Value{{Raw: "US", Norm: "us", Exact: "US"}}},
				{Param: p("name"), Values: []Value{{Raw: "Coffey", Norm: "coffey", Exact: "Coffey"}}},
			}}
		},
	}, {
		name: "missing needs a boolean", query: "family:missing=yes",
		errExpr: "family", errMsg: `invalid value "yes" of search parameter "family:missing": :missing takes true or false`,
	}})
}

func TestParseQueryToken(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "system and code forms", query: `identifier=http://x|123&identifier=|123,http://x|,123&telecom=a\|b|c\|d`,
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("identifier"), Values: []Value{{Raw: "http://x|123", System: "http://x", Code: "123", HasSystem: true}}},
				{Param: p("identifier"), Values: []Value{
					{Raw: "|123", Code: "123", HasSystem: true},
					{Raw: "http://x|", System: "http://x", HasSystem: true},
					{Raw: "123", Code: "123"},
				}},
				{Param: p("telecom"), Values: []Value{{Raw: `a\|b|c\|d`, System: "a|b", Code: "c|d", HasSystem: true}}},
			}}
		},
	}, {
		name: "not, missing, _id", query: "gender:not=male&active:missing=true&_id=a-1.B",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("_id"), Values: []Value{{Raw: "a-1.B", Code: "a-1.B"}}},
				{Param: p("active"), Modifier: "missing", Values: []Value{{Raw: "true", Missing: true}}},
				{Param: p("gender"), Modifier: "not", Values: []Value{{Raw: "male", Code: "male"}}},
			}}
		},
	}, {
		name: "two bars", query: "identifier=a|b|c",
		errExpr: "identifier", errMsg: `invalid value "a|b|c" of search parameter "identifier": more than one "|" (escape a literal one as "\|")`,
	}, {
		name: "bar alone", query: "identifier=|",
		errExpr: "identifier", errMsg: `invalid value "|" of search parameter "identifier": neither system nor code`,
	}, {
		name: "bad id", query: "_id=Patient/1",
		errExpr: "_id", errMsg: `invalid value "Patient/1" of search parameter "_id": not a resource id`,
	}, {
		name: "id with system", query: "_id=x|1",
		errExpr: "_id", errMsg: `invalid value "x|1" of search parameter "_id": not a resource id`,
	}, {
		name: "id too long", query: "_id=" + strings.Repeat("a", 65),
		errExpr: "_id", errMsg: `invalid value "` + strings.Repeat("a", 65) + `" of search parameter "_id": not a resource id`,
	}})
}

func TestParseQueryDate(t *testing.T) {
	y1990lo, y1990hi := mustRange(t, "1990")
	d1lo, d1hi := mustRange(t, "1990-02-03")
	y2000lo, y2000hi := mustRange(t, "2000")
	tzLo, tzHi := mustRange(t, "2024-01-01T10:00:00+02:00")
	runQueryTests(t, []queryTest{{
		name: "prefixes", query: "birthdate=1990&birthdate=ge1990-02-03,sa2000&birthdate=ne2000&birthdate=eb1990",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("birthdate"), Values: []Value{{Raw: "1990", Prefix: "eq", Lo: y1990lo, Hi: y1990hi}}},
				{Param: p("birthdate"), Values: []Value{
					{Raw: "ge1990-02-03", Prefix: "ge", Lo: d1lo, Hi: d1hi},
					{Raw: "sa2000", Prefix: "sa", Lo: y2000lo, Hi: y2000hi},
				}},
				{Param: p("birthdate"), Values: []Value{{Raw: "ne2000", Prefix: "ne", Lo: y2000lo, Hi: y2000hi}}},
				{Param: p("birthdate"), Values: []Value{{Raw: "eb1990", Prefix: "eb", Lo: y1990lo, Hi: y1990hi}}},
			}}
		},
	}, {
		name: "time zone, encoded and as a decoded +", query: "_lastUpdated=gt2024-01-01T10:00:00%2B02:00&_lastUpdated=lt2024-01-01T10:00:00+02:00",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Clauses: []Clause{
				{Param: p("_lastUpdated"), Values: []Value{{Raw: "gt2024-01-01T10:00:00+02:00", Prefix: "gt", Lo: tzLo, Hi: tzHi}}},
				{Param: p("_lastUpdated"), Values: []Value{{Raw: "lt2024-01-01T10:00:00 02:00", Prefix: "lt", Lo: tzLo, Hi: tzHi}}},
			}}
		},
	}, {
		name: "missing", typ: TypePerson, query: "birthdate:missing=true",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20, Clauses: []Clause{
				{Param: p("birthdate"), Modifier: "missing", Values: []Value{{Raw: "true", Missing: true}}},
			}}
		},
	}, {
		name: "ap", query: "birthdate=ap1990",
		errExpr: "birthdate", errMsg: `invalid value "ap1990" of search parameter "birthdate": the prefix "ap" is not supported`,
	}, {
		name: "unknown prefix", query: "birthdate=xx1990",
		errExpr: "birthdate", errMsg: `invalid value "xx1990" of search parameter "birthdate": unknown prefix "xx"`,
	}, {
		name: "impossible date", query: "birthdate=1990-02-30",
		errExpr: "birthdate", errMsg: `invalid value "1990-02-30" of search parameter "birthdate": not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][zone])`,
	}})
}

func TestParseQueryReference(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "bare id expands to every target type", typ: TypePerson, query: "link=123",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20, Clauses: []Clause{{Param: p("link"), Values: []Value{
				{Raw: "123", Target: "Patient/123"}, {Raw: "123", Target: "Person/123"},
				{Raw: "123", Target: "RelatedPerson/123"}, {Raw: "123", Target: "Practitioner/123"},
			}}}}
		},
	}, {
		name: "typed, absolute, type modifier", typ: TypePerson,
		query: "link=Patient/1,http://x.org/fhir/Practitioner/2/_history/3&link:Patient=4&patient=5&practitioner=Practitioner/6",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20, Clauses: []Clause{
				{Param: p("link"), Values: []Value{
					{Raw: "Patient/1", Target: "Patient/1"},
					{Raw: "http://x.org/fhir/Practitioner/2/_history/3", Target: "Practitioner/2"},
				}},
				{Param: p("link"), Values: []Value{{Raw: "4", Target: "Patient/4"}}},
				{Param: p("patient"), Values: []Value{{Raw: "5", Target: "Patient/5"}}},
				{Param: p("practitioner"), Values: []Value{{Raw: "Practitioner/6", Target: "Practitioner/6"}}},
			}}
		},
	}, {
		name: "location partof and missing", typ: TypeLocation, query: "partof=abc&partof:missing=false",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypeLocation, Count: 20, Clauses: []Clause{
				{Param: p("partof"), Values: []Value{{Raw: "abc", Target: "Location/abc"}}},
				{Param: p("partof"), Modifier: "missing", Values: []Value{{Raw: "false"}}},
			}}
		},
	}, {
		name: "type modifier that is not a target", typ: TypePerson, query: "link:Organization=1&item=2",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20, Issues: []fhir.Issue{
				warning("item", "not-supported", `unknown search parameter "item" for Person: ignored`),
				warning("link", "not-supported", `unsupported modifier ":Organization" on search parameter "link": ignored`),
			}}
		},
	}, {
		name: "type against modifier", typ: TypePerson, query: "link:Patient=Person/1",
		errExpr: "link", errMsg: `invalid value "Person/1" of search parameter "link:Patient": link cannot refer to a Person`,
	}, {
		name: "type not a target", typ: TypePerson, query: "patient=Practitioner/1",
		errExpr: "patient", errMsg: `invalid value "Practitioner/1" of search parameter "patient": patient cannot refer to a Practitioner`,
	}, {
		name: "contained", typ: TypePerson, query: "link=%23c1",
		errExpr: "link", errMsg: `invalid value "#c1" of search parameter "link": not a reference (Type/id) nor a resource id`,
	}, {
		name: "urn", typ: TypeLinkage, query: "item=urn:uuid:1/2",
		errExpr: "item", errMsg: `invalid value "urn:uuid:1/2" of search parameter "item": not a reference of the form Type/id`,
	}})
}

func TestParseQueryResult(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "count, sort, summary, total, cursor, format", query: "_count=50&_sort=family,-birthdate,-_lastUpdated,family&_summary=count&_total=none&_cursor=abc&_format=json&_pretty=true",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 50, Summary: "count", NoTotal: true, Page: "abc",
				Sort: []SortField{{Name: "family"}, {Name: "birthdate", Desc: true}, {Name: "_lastUpdated", Desc: true}}}
		},
	}, {
		name: "count capped, zero", query: "_count=5000&_total=accurate&_summary=false",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 1000, Issues: []fhir.Issue{
				warning("_count", "too-costly", "_count=5000 is more than the maximum page size: 1000 are returned"),
			}}
		},
	}, {
		name: "count zero", query: "_count=0&_total=estimate",
		want: func(t *testing.T, p func(string) *SearchParam) *Query { return &Query{Type: TypePatient} },
	}, {
		name: "summary subsets and elements are ignored", query: "_summary=text&_elements=name", strict: true,
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20, Issues: []fhir.Issue{
				warning("_elements", "not-supported", "_elements is not supported: whole resources are returned"),
				warning("_summary", "not-supported", "_summary=text is not supported: whole resources are returned"),
			}}
		},
	}, {
		name: "location sorts by name", typ: TypeLocation, query: "_sort=-name",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypeLocation, Count: 20, Sort: []SortField{{Name: "name", Desc: true}}}
		},
	}, {
		name: "negative count", query: "_count=-1",
		errExpr: "_count", errMsg: `invalid value "-1" of _count: a whole number of at least 0 is needed`,
	}, {
		name: "count not a number", query: "_count=ten",
		errExpr: "_count", errMsg: `invalid value "ten" of _count: a whole number of at least 0 is needed`,
	}, {
		name: "sort by a non-sort parameter", query: "_sort=gender",
		errExpr: "_sort", errMsg: `cannot sort Patient by "gender": sort by one of _lastUpdated, family, given, birthdate, name`,
	}, {
		name: "sort by a parameter of another type", typ: TypeLocation, query: "_sort=family",
		errExpr: "_sort", errMsg: `cannot sort Location by "family": sort by one of _lastUpdated, name`,
	}, {
		name: "bad summary", query: "_summary=yes",
		errExpr: "_summary", errMsg: `invalid value "yes" of _summary: use true, false, text, data or count`,
	}, {
		name: "bad total", query: "_total=some",
		errExpr: "_total", errMsg: `invalid value "some" of _total: use none, estimate or accurate`,
	}})
}

func TestParseQueryInclude(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "include and revinclude", typ: TypePerson,
		query: "_include=Person:link:Patient&_include:iterate=Person:patient&_revinclude=Linkage:item&_revinclude=Person:link",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20,
				Include: []IncludeSpec{
					{Source: TypePerson, Param: p("link"), Target: TypePatient},
					{Source: TypePerson, Param: p("patient")},
				},
				RevInclude: []IncludeSpec{
					{Source: TypeLinkage, Param: mustParam(t, TypeLinkage, "item")},
					{Source: TypePerson, Param: p("link")},
				},
				Issues: []fhir.Issue{warning("_include", "not-supported", "_include:iterate is not supported: includes are followed one level")},
			}
		},
	}, {
		name: "iterate is still included", typ: TypePerson, query: "_include:iterate=Person:patient",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePerson, Count: 20,
				Include: []IncludeSpec{{Source: TypePerson, Param: p("patient")}},
				Issues:  []fhir.Issue{warning("_include", "not-supported", "_include:iterate is not supported: includes are followed one level")},
			}
		},
	}, {
		name: "wildcard", typ: TypePerson, query: "_include=*",
		errExpr: "_include", errMsg: `invalid value "*" of _include: use Source:parameter or Source:parameter:Target`,
	}, {
		name: "wildcard parameter", typ: TypePerson, query: "_include=Person:*",
		errExpr: "_include", errMsg: `invalid value "Person:*" of _include: the wildcard * is not supported; name the parameter`,
	}, {
		name: "unserved source", query: "_revinclude=Observation:subject",
		errExpr: "_revinclude", errMsg: `invalid value "Observation:subject" of _revinclude: "Observation" is not a resource type served here`,
	}, {
		name: "not a reference parameter", typ: TypePerson, query: "_include=Person:name",
		errExpr: "_include", errMsg: `invalid value "Person:name" of _include: Person has no reference search parameter "name"`,
	}, {
		name: "target not allowed", typ: TypePerson, query: "_include=Person:link:Location",
		errExpr: "_include", errMsg: `invalid value "Person:link:Location" of _include: Person:link cannot refer to a Location`,
	}})
}

func TestParseQueryUnknown(t *testing.T) {
	runQueryTests(t, []queryTest{{
		name: "lenient", query: "foo=1&foo=2&family:text=x&_count:x=3&_has:Person:link:name=x&general-practitioner.name=x&family=ok",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypePatient, Count: 20,
				Clauses: []Clause{{Param: p("family"), Values: []Value{{Raw: "ok", Norm: "ok", Exact: "ok"}}}},
				Issues: []fhir.Issue{
					warning("_count", "not-supported", `unsupported modifier ":x" on _count: ignored`),
					warning("_has", "not-supported", `unknown search parameter "_has" for Patient: ignored`),
					warning("family", "not-supported", `unsupported modifier ":text" on search parameter "family": ignored`),
					warning("foo", "not-supported", `unknown search parameter "foo" for Patient: ignored`),
					warning("general-practitioner.name", "not-supported", `unknown search parameter "general-practitioner.name" for Patient: ignored`),
				}}
		},
	}, {
		name: "strict unknown", query: "foo=1&family=x", strict: true,
		errExpr: "foo", errMsg: `unknown search parameter "foo" for Patient`,
	}, {
		name: "strict modifier", query: "gender:text=x", strict: true,
		errExpr: "gender", errMsg: `unsupported modifier ":text" on search parameter "gender"`,
	}, {
		name: "column parameters take no modifier", query: "_id:not=1", strict: true,
		errExpr: "_id", errMsg: `unsupported modifier ":not" on search parameter "_id"`,
	}, {
		name: "parameter of another type", typ: TypeLinkage, query: "family=x",
		want: func(t *testing.T, p func(string) *SearchParam) *Query {
			return &Query{Type: TypeLinkage, Count: 20, Issues: []fhir.Issue{
				warning("family", "not-supported", `unknown search parameter "family" for Linkage: ignored`),
			}}
		},
	}})
}

func TestParseQueryUnknownType(t *testing.T) {
	_, err := ParseQuery("Observation", url.Values{}, false)
	if ErrorCode(err) != EInvalid {
		t.Errorf("ParseQuery(Observation): %v, want %s", err, EInvalid)
	}
}

func TestCanonicalQuery(t *testing.T) {
	same := [][]string{
		{"identifier=a|1&family=x", "family=x&identifier=a|1", "family=x&identifier=a|1&_count=5&_sort=family&_include=Patient:link&_format=json"},
		{"given=a&given=b", "given=b&given=a", "given=b&given=a&given=b&given="},
		{"given=a,b", "given=b,a", "given=b,,a,b"},
	}
	for _, qs := range same {
		want := canonical(t, qs[0])
		for _, q := range qs[1:] {
			if got := canonical(t, q); got != want {
				t.Errorf("CanonicalQuery(%q) = %q, want %q as for %q", q, got, want, qs[0])
			}
		}
	}
	if got, want := canonical(t, "identifier=a|1&family=x&_count=1"), "Patient?family=x&identifier=a%7C1"; got != want {
		t.Errorf("CanonicalQuery = %q, want %q", got, want)
	}
	differ := []string{"family=x", "family:exact=x", "given=x", "family=x,y", "family=x&family=y", `family=x\,y`, "family=y,x&family=z"}
	seen := map[string]string{}
	for _, q := range differ {
		c := canonical(t, q)
		if prev, ok := seen[c]; ok {
			t.Errorf("CanonicalQuery(%q) = CanonicalQuery(%q) = %q", q, prev, c)
		}
		seen[c] = q
	}
	if CanonicalQuery(TypePerson, url.Values{"family": {"x"}}) == canonical(t, "family=x") {
		t.Error("CanonicalQuery ignores the type")
	}
}

// canonical returns CanonicalQuery of a Patient query string.
func canonical(t *testing.T, query string) string {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	return CanonicalQuery(TypePatient, params)
}

func BenchmarkParseQuery(b *testing.B) {
	params, _ := url.ParseQuery("family=Smith&given=Ann,Anna&birthdate=ge1990-01-01&identifier=http://x|1&_count=50&_sort=-_lastUpdated")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseQuery(TypePatient, params, false)
	}
}
