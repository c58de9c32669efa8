package fhir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeJSON checks that DecodeJSON never panics, that it fails only
// with a Malformed *Error, and that whatever it accepts survives
// MarshalResource → DecodeJSON unchanged (and validates without panicking).
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"resourceType":"Patient","id":"a","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}`,
		`{"a":"\ud83d\ude00\u0000\n","b":[1.50,-0,2E+3,true,false,null,{},[]]}`,
		`{"a":{"a":{"a":[[[[{"b":"\"\\"}]]]]}}}`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":"\udc00"}`,
	} {
		f.Add([]byte(seed))
	}
	files, _ := filepath.Glob(filepath.Join(fhirFixtureDir, "*", "*.json"))
	for _, name := range files {
		if body, err := os.ReadFile(name); err == nil {
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := DecodeJSON(body)
		if err != nil {
			if errCode(err) != codeInvalid || len(errIssues(err)) != 1 {
				t.Fatalf("DecodeJSON error %#v is not one Malformed issue", err)
			}
			return
		}
		_ = ValidateResource(res)
		out := MarshalResource(res)
		again, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("DecodeJSON(MarshalResource(x)) failed: %v\n%s", err, out)
		}
		if diff := cmp.Diff(res, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
		if pretty, err := DecodeJSON(MarshalIndent(res)); err != nil || !cmp.Equal(res, pretty) {
			t.Fatalf("MarshalIndent round trip failed: %v", err)
		}
	})
}
