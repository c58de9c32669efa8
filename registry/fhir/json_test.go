package fhir

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustDecode decodes a JSON object or fails the test.
func mustDecode(tb testing.TB, body string) map[string]any {
	tb.Helper()
	m, err := DecodeJSON([]byte(body))
	if err != nil {
		tb.Fatalf("DecodeJSON(%.60q): %v", body, err)
	}
	return m
}

func TestDecodeJSON(t *testing.T) {
	got := mustDecode(t, " {\"resourceType\" : \"Patient\",\r\n\t\"n\":[1.50, -0, 2e10, 0.0e-5],"+
		`"s":"a\"\\\/\n\r\t\u00e9\ud83d\ude00é","b":[true,false,null],"o":{},"a":[]} `)
	want := map[string]any{
		"resourceType": "Patient",
		"n":            []any{json.Number("1.50"), json.Number("-0"), json.Number("2e10"), json.Number("0.0e-5")},
		"s":            "a\"\\/\n\r\té😀é",
		"b":            []any{true, false, nil},
		"o":            map[string]any{},
		"a":            []any{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeJSON mismatch (-want +got):\n%s", diff)
	}
}

// Control characters FHIR strings forbid are refused, with their path;
// stored bodies from before that rule still decode.
func TestDecodeJSONControlCharacters(t *testing.T) {
	for _, esc := range []string{`\u0000`, `\u0001`, `\b`, `\f`, `\u001F`, `\u001b`} {
		body := `{"resourceType":"Patient","name":[{"family":"A` + esc + `B"}]}`
		_, err := DecodeJSON([]byte(body))
		if errCode(err) != codeInvalid || !strings.Contains(errMessage(err), "Patient.name[0].family") {
			t.Errorf("%s: %v, want a Malformed error naming Patient.name[0].family", esc, err)
		}
		if _, err := decodeJSON([]byte(body), true); err != nil {
			t.Errorf("%s, lenient: %v", esc, err)
		}
	}
	if _, err := DecodeJSON([]byte(`{"k\u0000":1}`)); errCode(err) != codeInvalid {
		t.Errorf("NUL in a key: %v", err)
	}
	if _, err := DecodeJSON([]byte(`{"s":"\t\r\n\u0009\u000a\u000D\u0020\u007f"}`)); err != nil {
		t.Errorf("tab, CR, LF, space, DEL: %v", err)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	deep := func(n int) string {
		return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"
	}
	tests := []struct {
		name, body string
		wantMsg    string // substring of the diagnostics
		wantExpr   string // "" for none
	}{
		{"empty", "", "byte offset 0: expected a JSON object", ""},
		{"array at top", "[1]", "expected a JSON object", ""},
		{"string at top", `"x"`, "expected a JSON object", ""},
		{"trailing garbage", `{"a":1}x`, "byte offset 7: unexpected data after the top-level object", ""},
		{"two objects", `{} {}`, "unexpected data after", ""},
		{"duplicate top-level key", `{"resourceType":"Patient","id":"a","id":"b"}`, `duplicate key "id"`, "Patient.id"},
		{"duplicate nested key", `{"resourceType":"Patient","name":[{"family":"a"},{"given":["x"],"family":"a","family":"b"}]}`,
			`byte offset 77: duplicate key "family"`, "Patient.name[1].family"},
		{"duplicate before resourceType", `{"a":{"b":1,"b":2},"resourceType":"Patient"}`, `duplicate key "b"`, "Resource.a.b"},
		{"invalid UTF-8 in string", "{\"a\":\"x\xffy\"}", "byte offset 7: invalid UTF-8 in string", "Resource.a"},
		{"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", "invalid UTF-8", "Resource.a"},
		{"invalid UTF-8 in key", "{\"\xfe\":1}", "invalid UTF-8", ""},
		{"UTF-8 outside strings", "{\"a\":\xc3\xa9}", "unexpected byte 0xc3, expected a value", "Resource.a"},
		{"lone high surrogate", `{"a":"\ud800"}`, "lone high surrogate", "Resource.a"},
		{"high surrogate then letter", `{"a":"\ud800\u0041"}`, "lone high surrogate", "Resource.a"},
		{"lone low surrogate", `{"a":"\udc00x"}`, "lone low surrogate", "Resource.a"},
		{"bad unicode escape", `{"a":"\u12g4"}`, `invalid \u escape`, "Resource.a"},
		{"bad escape", `{"a":"\x"}`, "invalid escape sequence", "Resource.a"},
		{"control character", "{\"a\":\"x\ty\"}", "control character in string", "Resource.a"},
		{"unterminated string", `{"a":"xyz`, "unterminated string", "Resource.a"},
		{"unterminated object", `{"a":1`, "expected ',' or '}'", ""},
		{"depth 65", deep(65), "nesting deeper than 64 levels", "Resource.a" + strings.Repeat("[0]", 63)},
		{"leading zero", `{"a":01}`, "expected ',' or '}'", ""},
		{"bare fraction point", `{"a":1.}`, "invalid number", "Resource.a"},
		{"leading point", `{"a":.5}`, "expected a value", "Resource.a"},
		{"lone minus", `{"a":-}`, "invalid number", "Resource.a"},
		{"empty exponent", `{"a":1e}`, "invalid number", "Resource.a"},
		{"plus sign", `{"a":+1}`, "expected a value", "Resource.a"},
		{"NaN", `{"a":NaN}`, "expected a value", "Resource.a"},
		{"bad literal", `{"a":tru}`, "invalid literal, expected true", "Resource.a"},
		{"null prefix", `{"a":nul}`, "invalid literal, expected null", "Resource.a"},
		{"missing colon", `{"a" 1}`, "expected ':'", ""},
		{"trailing comma in object", `{"a":1,}`, "expected a string key", ""},
		{"trailing comma in array", `{"a":[1,]}`, "expected a value", "Resource.a[1]"},
		{"single quotes", `{'a':1}`, "expected a string key", ""},
		{"unquoted key", `{a:1}`, "expected a string key", ""},
		{"comment", `{"a":1 /* x */}`, "expected ',' or '}'", ""},
		{"byte order mark", "\ufeff{}", "expected a JSON object", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("DecodeJSON(%q) = %v, want *Error", tt.body, err)
			}
			if !e.Malformed || len(e.Issues) != 1 || e.Issues[0].Code != "structure" {
				t.Fatalf("error = %+v, want one Malformed structure issue", e)
			}
			if !strings.Contains(e.Issues[0].Diagnostics, tt.wantMsg) {
				t.Errorf("diagnostics = %q, want it to contain %q", e.Issues[0].Diagnostics, tt.wantMsg)
			}
			var wantExpr []string
			if tt.wantExpr != "" {
				wantExpr = []string{tt.wantExpr}
			}
			if diff := cmp.Diff(wantExpr, e.Issues[0].Expression); diff != "" {
				t.Errorf("expression mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeJSONDepthLimit(t *testing.T) {
	body := `{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}" // 64 levels
	if _, err := DecodeJSON([]byte(body)); err != nil {
		t.Fatalf("64 levels: %v", err)
	}
}

// mustDecodeStored decodes as stored bodies are: control characters kept.
func mustDecodeStored(tb testing.TB, body string) map[string]any {
	tb.Helper()
	m, err := decodeJSON([]byte(body), true)
	if err != nil {
		tb.Fatalf("decodeJSON(%.60q): %v", body, err)
	}
	return m
}

func TestMarshalResource(t *testing.T) {
	res := mustDecodeStored(t, `{"z":1,"meta":{"versionId":"1"},"name":[{"given":["A"],"family":"B"}],"id":"p1",`+
		`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a &amp; b</div>"},`+
		`"resourceType":"Patient","contained":[{"name":"x","resourceType":"Organization","id":"o"}],`+
		`"decimal":1.50,"esc":"q\"\\\n\r\t\u0001\u2028é😀"}`)
	want := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},` +
		`"contained":[{"resourceType":"Organization","id":"o","name":"x"}],"decimal":1.50,` +
		`"esc":"q\"\\\n\r\t\u0001\u2028é😀","name":[{"family":"B","given":["A"]}],` +
		`"text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a &amp; b</div>","status":"generated"},"z":1}`
	if got := string(MarshalResource(res)); got != want {
		t.Errorf("MarshalResource:\n got %s\nwant %s", got, want)
	}
}

func TestMarshalIndent(t *testing.T) {
	res := mustDecode(t, `{"b":[],"a":{},"resourceType":"Patient","name":[{"given":["A","B"]}]}`)
	want := "{\n  \"resourceType\": \"Patient\",\n  \"a\": {},\n  \"b\": [],\n  \"name\": [\n    {\n" +
		"      \"given\": [\n        \"A\",\n        \"B\"\n      ]\n    }\n  ]\n}"
	if got := string(MarshalIndent(res)); got != want {
		t.Errorf("MarshalIndent:\n got %s\nwant %s", got, want)
	}
}

func TestMarshalGoValues(t *testing.T) {
	res := map[string]any{"resourceType": "Bundle", "total": 3, "f": 0.5, "big": 1e21, "i64": int64(-7),
		"s": []string{"x"}, "m": []map[string]any{{"b": true, "a": nil}}, "bad": "\xff", "n": json.Number("")}
	want := `{"resourceType":"Bundle","bad":"\ufffd","big":1e+21,"f":0.5,"i64":-7,"m":[{"a":null,"b":true}],` +
		`"n":0,"s":["x"],"total":3}`
	if got := string(MarshalResource(res)); got != want {
		t.Errorf("MarshalResource:\n got %s\nwant %s", got, want)
	}
}

// roundTrip checks DecodeJSON → MarshalResource → DecodeJSON and that the
// canonical form is stable.
func roundTrip(t *testing.T, name string, body []byte) {
	t.Helper()
	first, err := decodeJSON(body, true)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, out := range [][]byte{MarshalResource(first), MarshalIndent(first)} {
		second, err := decodeJSON(out, true)
		if err != nil {
			t.Fatalf("%s: decoding %s: %v", name, out, err)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: round trip mismatch (-first +second):\n%s", name, diff)
		}
		if again := MarshalResource(second); string(again) != string(MarshalResource(first)) {
			t.Errorf("%s: canonical form not stable", name)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	roundTrip(t, "escapes", []byte(`{"resourceType":"Patient","s":"\u0000\u001f\"\\/<>&\u2029\ud83d\ude00","n":[-1.50e+3,0]}`))
	files, _ := filepath.Glob(filepath.Join(fhirFixtureDir, "*", "*.json"))
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, filepath.Base(f), body)
	}
	forSynthea(t, func(name string, line []byte) { roundTrip(t, name, line) })
}

func BenchmarkDecodeJSONSynthea(b *testing.B) {
	line := firstSyntheaPatient(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalResourceSynthea(b *testing.B) {
	res := mustDecode(b, string(firstSyntheaPatient(b)))
	b.ReportAllocs()
	for b.Loop() {
		MarshalResource(res)
	}
}
