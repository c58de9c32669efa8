package fhir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Shared data outside the repository; tests that need it skip without it.
const (
	fhirSharedDir  = "../../../shared/data"
	fhirSyntheaDir = fhirSharedDir + "/synthea"
	fhirFixtureDir = "../../../shared/tools/fhir-check/fixtures"
)

// forSynthea calls fn with every line of the Synthea Patient, Practitioner
// and Location files, or skips the test when the data is absent.
func forSynthea(t *testing.T, fn func(name string, line []byte)) {
	t.Helper()
	if _, err := os.Stat(fhirSharedDir); err != nil {
		t.Skip("no shared data:", err)
	}
	for _, typ := range []string{"Patient", "Practitioner", "Location"} {
		f, err := os.Open(filepath.Join(fhirSyntheaDir, typ+".000.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for n := 1; sc.Scan(); n++ {
			fn(fmt.Sprintf("%s line %d", typ, n), sc.Bytes())
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// firstSyntheaPatient returns the first Synthea Patient line (about 3.4 KB).
func firstSyntheaPatient(tb testing.TB) []byte {
	body, err := os.ReadFile(filepath.Join(fhirSyntheaDir, "Patient.000.ndjson"))
	if err != nil {
		tb.Skip("no Synthea data:", err)
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	return line
}

func TestValidateSynthea(t *testing.T) {
	count := 0
	forSynthea(t, func(name string, line []byte) {
		count++
		typ, _, _ := strings.Cut(name, " ")
		if _, err := ParseResource(line, typ); err != nil {
			t.Errorf("%s: %v", name, errIssues(err))
		}
	})
	if count < 2800 {
		t.Errorf("validated %d Synthea resources, want all of them (2815)", count)
	}
}

// ourFixture reports whether a fhir-check fixture is of a type this package validates.
func ourFixture(name string) bool {
	for _, p := range []string{"patient-", "practitioner", "person", "linkage", "location", "bundle-",
		"operationoutcome", "parameters", "unknown-resource-type"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func TestValidateFixtures(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join(fhirFixtureDir, dir, "*.json"))
		if len(files) == 0 {
			t.Skip("no fhir-check fixtures in", fhirFixtureDir)
		}
		for _, f := range files {
			if name := filepath.Base(f); ourFixture(name) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				_, err = ParseResource(body, "")
				if dir == "valid" && err != nil {
					t.Errorf("valid/%s: %v", name, errIssues(err))
				}
				if dir == "invalid" && err == nil {
					t.Errorf("invalid/%s: no error", name)
				}
			}
		}
	}
}

func TestParseResource(t *testing.T) {
	tests := []struct {
		name, body, want  string
		wantCode, wantMsg string
	}{
		{"ok", `{"resourceType":"Patient","id":"a"}`, "Patient", "", ""},
		{"any type", `{"resourceType":"Person","id":"a"}`, "", "", ""},
		{"wrong endpoint", `{"resourceType":"Practitioner","id":"a"}`, "Patient", codeInvalid,
			`resourceType "Practitioner" does not match the endpoint Patient`},
		{"no resourceType", `{"id":"a"}`, "Patient", codeInvalid, "the resource has no resourceType (expected Patient)"},
		{"bad JSON", `{"resourceType":"Patient",}`, "Patient", codeInvalid, "invalid JSON at byte offset 26: unexpected '}', expected a string key"},
		{"invalid", `{"resourceType":"Patient","gender":"x"}`, "Patient", codeUnprocessable,
			`Patient.gender: code "x" is not in the required value set AdministrativeGender (male | female | other | unknown)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseResource([]byte(tt.body), tt.want)
			if got := errCode(err); got != tt.wantCode {
				t.Fatalf("code = %q, want %q (%v)", got, tt.wantCode, err)
			}
			if err != nil && errMessage(err) != tt.wantMsg {
				t.Errorf("message = %q, want %q", errMessage(err), tt.wantMsg)
			}
			if err == nil && res["id"] != "a" {
				t.Errorf("resource = %v", res)
			}
		})
	}
}

// issueExprs returns the expressions of err's issues, one per issue.
func issueExprs(t *testing.T, err error) []string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	var out []string
	for _, is := range e.Issues {
		out = append(out, strings.Join(is.Expression, ","))
	}
	return out
}

func TestValidateIssueCap(t *testing.T) {
	given := strings.TrimSuffix(strings.Repeat(`"",`, 150), ",")
	res := mustDecode(t, `{"resourceType":"Patient","name":[{"given":[`+given+`]}]}`)
	err := Limits{Repeats: map[string]int{}}.Validate(res) // no repeat limits
	exprs := issueExprs(t, err)
	if len(exprs) != maxIssues || exprs[0] != "Patient.name[0].given[0]" || exprs[99] != "Patient.name[0].given[99]" {
		t.Errorf("issues = %d, first %q, last %q", len(exprs), exprs[0], exprs[len(exprs)-1])
	}
	if !strings.HasSuffix(errMessage(err), "(and 149 more issues)") {
		t.Errorf("message = %q", errMessage(err))
	}
}

// Arrays over their repeat limit are one 422 issue naming the element,
// wherever they are; their items are not checked.
func TestValidateRepeatLimits(t *testing.T) {
	many := func(item string, n int) string { return strings.TrimSuffix(strings.Repeat(item+",", n), ",") }
	tests := []struct {
		name, body, want string
	}{
		{"identifier", `{"resourceType":"Patient","identifier":[` + many(`{"value":"x"}`, 101) + `]}`, "Patient.identifier"},
		{"given", `{"resourceType":"Patient","name":[{"given":[` + many(`""`, 21) + `]}]}`, "Patient.name[0].given"},
		{"_given", `{"resourceType":"Patient","name":[{"_given":[` + many(`{"id":"a"}`, 21) + `]}]}`, "Patient.name[0]._given"},
		{"any array", `{"resourceType":"Patient","address":[{"line":[` + many(`"l"`, 1001) + `]}]}`, "Patient.address[0].line"},
		{"contained", `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"c","telecom":[` + many(`{"value":"1"}`, 51) + `]}]}`, "Patient.contained[0].telecom"},
		{"opaque", `{"resourceType":"Patient","contained":[{"resourceType":"Observation","id":"o","note":[` + many(`{"text":"n"}`, 1001) + `]}]}`, "Patient.contained[0].note"},
		{"in a Bundle", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","name":[` + many(`{"family":"F"}`, 21) + `]},"request":{"method":"POST","url":"Patient"}}]}`, "Bundle.entry[0].resource.name"},
	}
	for _, tt := range tests {
		err := ValidateResource(mustDecode(t, tt.body))
		if exprs := issueExprs(t, err); errCode(err) != codeUnprocessable || len(exprs) != 1 || exprs[0] != tt.want {
			t.Errorf("%s: %v, want one 422 issue at %s", tt.name, err, tt.want)
		}
	}
	l, err := ParseLimits("identifier=2, *=0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(mustDecode(t, `{"resourceType":"Patient","identifier":[`+many(`{"value":"x"}`, 3)+`]}`)); errCode(err) != codeUnprocessable {
		t.Errorf("configured limit of 2: %v", err)
	}
	if err := l.Validate(mustDecode(t, `{"resourceType":"Patient","address":[{"line":[`+many(`"l"`, 5000)+`]}]}`)); err != nil {
		t.Errorf("no general limit: %v", err)
	}
	for _, bad := range []string{"identifier", "identifier=x", "=3", "name=-1"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
}

func TestValidateNotDecoded(t *testing.T) {
	// Resources built in Go (ints, float64) validate like decoded ones.
	res := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": 2,
		"entry": []any{map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": "x"},
			"search": map[string]any{"mode": "match", "score": 0.5}}}}
	if err := ValidateResource(res); err != nil {
		t.Errorf("ValidateResource: %v", errIssues(err))
	}
}

func BenchmarkParseResourceSynthea(b *testing.B) {
	line := firstSyntheaPatient(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := ParseResource(line, "Patient")
		if err != nil {
			b.Fatal(err)
		}
		MarshalResource(res)
	}
}

func BenchmarkValidateResourceSynthea(b *testing.B) {
	res := mustDecode(b, string(firstSyntheaPatient(b)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateResource(res); err != nil {
			b.Fatal(err)
		}
	}
}

// validateCase is one entry of testdata/validate/cases.json.
type validateCase struct {
	Name     string          `json:"name"`
	Resource json.RawMessage `json:"resource"`
	Code     string          `json:"code"` // "" (valid), "invalid" or "unprocessable"
	Expr     []string        `json:"expr"` // expressions of the issues, in order
}

func TestValidateResource(t *testing.T) {
	body, err := os.ReadFile("testdata/validate/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []validateCase
	if err := json.Unmarshal(body, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			res := mustDecode(t, string(tc.Resource))
			err := ValidateResource(res)
			if got := errCode(err); got != tc.Code {
				t.Fatalf("code = %q, want %q; issues: %v", got, tc.Code, errIssues(err))
			}
			if err == nil {
				return
			}
			if diff := cmp.Diff(tc.Expr, issueExprs(t, err)); diff != "" {
				t.Errorf("expressions mismatch (-want +got):\n%s\nissues: %v", diff, errIssues(err))
			}
		})
	}
}

func TestValidatePrimitiveFormats(t *testing.T) {
	num := func(s string) any { return json.Number(s) }
	tests := []struct {
		typ   string
		val   any
		valid bool
	}{
		{"boolean", true, true}, {"boolean", "true", false}, {"boolean", num("1"), false},
		{"integer", num("0"), true}, {"integer", num("-2147483648"), true}, {"integer", num("2147483648"), false},
		{"integer", num("1.0"), false}, {"integer", num("1e2"), false}, {"integer", "1", false}, {"integer", 3, true},
		{"positiveInt", num("1"), true}, {"positiveInt", num("0"), false}, {"positiveInt", num("-1"), false},
		{"unsignedInt", num("0"), true}, {"unsignedInt", num("-1"), false}, {"unsignedInt", num("2147483647"), true},
		{"decimal", num("1.50"), true}, {"decimal", num("-0.0e-10"), true}, {"decimal", "1.5", false},
		{"decimal", 0.25, true},
		{"string", "x", true}, {"string", "", false}, {"string", strings.Repeat("x", 1<<20), true},
		{"string", strings.Repeat("x", 1<<20+1), false}, {"string", num("1"), false},
		{"markdown", "# x", true}, {"markdown", "", false},
		{"code", "a b", true}, {"code", "a  b", false}, {"code", " a", false}, {"code", "a ", false},
		{"code", "a\tb", true}, {"code", "", false},
		{"id", "a-Z.9", true}, {"id", strings.Repeat("a", 64), true}, {"id", strings.Repeat("a", 65), false},
		{"id", "a_b", false}, {"id", "bad id!", false}, {"id", "", false},
		{"uri", "urn:x", true}, {"uri", "not a uri", false}, {"uri", "http://x/\t", false},
		{"url", "http://x", true}, {"url", "http://x y", false}, {"canonical", "http://x|1.0", true},
		{"canonical", " x", false},
		{"oid", "urn:oid:1.2.3", true}, {"oid", "urn:oid:1.02", false}, {"oid", "urn:oid:3.1", false},
		{"oid", "urn:oid:1", false}, {"oid", "1.2.3", false}, {"oid", "urn:oid:1.2.", false},
		{"uuid", "urn:uuid:4f5c9a4e-3a1b-4c6e-9d2a-0c1b2d3e4f50", true},
		{"uuid", "urn:uuid:4F5C9A4E-3A1B-4C6E-9D2A-0C1B2D3E4F50", false},
		{"uuid", "4f5c9a4e-3a1b-4c6e-9d2a-0c1b2d3e4f50", false},
		{"base64Binary", "aGVsbG8=", true}, {"base64Binary", "aGVs bG8=", true}, {"base64Binary", "aGVsbG8", false},
		{"base64Binary", "a=Vs", false}, {"base64Binary", "aGVsbG8*", false},
		{"date", "2000", true}, {"date", "2000-02", true}, {"date", "2000-02-29", true}, {"date", "1900-02-29", false},
		{"date", "1990-02-30", false}, {"date", "1990-13-01", false}, {"date", "1990-00", false}, {"date", "0000", false},
		{"date", "1990-1-01", false}, {"date", "1990-01-01T00:00:00Z", false}, {"date", "199", false},
		{"date", "2024-04-31", false}, {"date", "2024-12-31", true},
		{"dateTime", "2024", true}, {"dateTime", "2024-05", true}, {"dateTime", "2024-05-06", true},
		{"dateTime", "2024-05-06T07:08:09Z", true}, {"dateTime", "2024-05-06T07:08:09.123+14:00", true},
		{"dateTime", "2024-05-06T07:08:09", false}, {"dateTime", "2024-05-06T07:08Z", false},
		{"dateTime", "2024-05T07:08:09Z", false}, {"dateTime", "2024-05-06T24:00:00Z", false},
		{"dateTime", "2024-05-06T07:08:09+14:30", false}, {"dateTime", "2024-05-06T07:08:09-13:59", true},
		{"dateTime", "2024-05-06T07:08:60Z", true}, {"dateTime", "2023-02-29T07:08:09Z", false},
		{"dateTime", "2024-05-06T07:08:09.Z", false}, {"dateTime", "2024-05-06 07:08:09Z", false},
		{"instant", "2024-01-02T03:04:05.000Z", true}, {"instant", "2024-01-02T03:04:05", false},
		{"instant", "2024-01-02", false}, {"instant", "2024-01-02T03:04:05+01:00", true},
		{"time", "00:00:00", true}, {"time", "23:59:59.5", true}, {"time", "24:00:00", false},
		{"time", "12:00", false}, {"time", "12:00:00Z", false},
		{"xhtml", `<div xmlns="http://www.w3.org/1999/xhtml">x</div>`, true}, {"xhtml", "<div/>", true},
		{"xhtml", "plain text", false}, {"xhtml", "<divx>a</divx>", false},
	}
	for _, tt := range tests {
		msg, _ := checkPrimitive(primitiveKinds[tt.typ], tt.val)
		if (msg == "") != tt.valid {
			name := fmt.Sprint(tt.val)
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("%s %q: valid = %v, want %v (%s)", tt.typ, name, msg == "", tt.valid, msg)
		}
	}
}
