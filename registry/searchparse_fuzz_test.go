package registry

import (
	"net/url"
	"testing"

	"idem/registry/fhir"
)

func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{
		"", "family=Smith&given=a,b", `given=a\,b\|c\$d\`, "identifier=http://x|1&identifier=|2,x|",
		"birthdate=ge1990-02-03T10:11:12.345+02:00&_lastUpdated=lt2024", "birthdate=ap1990",
		"link=123&link:Patient=Person/1&link=http://x/Patient/1/_history/2", "item=#x,urn:uuid:1",
		"_count=5000&_sort=-family,given&_summary=count&_total=none&_cursor=x",
		"_include=Person:link:Patient&_revinclude:iterate=Linkage:item&_include=*",
		"foo=1&family:bar=2&_id=a.b-c&gender:not=male&active:missing=true",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, query string, strict bool) {
		params, _ := url.ParseQuery(query) // keeps what parsed before an error
		_ = CanonicalQuery(TypePatient, params)
		for _, typ := range Types {
			q, err := ParseQuery(typ, params, strict)
			if err != nil {
				if ErrorCode(err) != EInvalid || len(ErrorIssues(err)) != 1 {
					t.Fatalf("ParseQuery(%s, %q): %#v, want one EInvalid issue", typ, query, err)
				}
				continue
			}
			checkQuery(t, q)
		}
	})
}

// checkQuery checks the invariants of a parsed Query.
func checkQuery(t *testing.T, q *Query) {
	t.Helper()
	if q.Count < 0 || q.Count > MaxCount {
		t.Fatalf("Count %d", q.Count)
	}
	for _, c := range q.Clauses {
		if c.Param == nil || c.Param.Type != q.Type || len(c.Values) == 0 {
			t.Fatalf("bad clause %+v", c)
		}
		for _, v := range c.Values {
			if c.Param.Kind == KindReference && c.Modifier == "" && !isRef(v.Target) {
				t.Fatalf("bad reference target %q", v.Target)
			}
			if c.Param.Kind == KindDate && c.Modifier == "" && v.Lo >= v.Hi {
				t.Fatalf("empty date range %+v", v)
			}
		}
	}
	for _, inc := range append(q.Include, q.RevInclude...) {
		if inc.Param == nil || inc.Param.Kind != KindReference || inc.Param.Type != inc.Source {
			t.Fatalf("bad include %+v", inc)
		}
	}
}

// isRef reports whether s is a "Type/id" reference.
func isRef(s string) bool {
	got, ok := fhir.LiteralRef(s)
	return ok && got == s
}
