package bulk

import (
	"io"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/fhir"
)

// TestToNDJSON checks the three input formats of idem import: NDJSON as it
// is, a Bundle's entries one per line, and CSV rows as Patients through
// --map, each line a Patient the validator reads.
func TestToNDJSON(t *testing.T) {
	fields, err := ParseMap("family=surname,given=first_name,birthDate=dob,identifier=mrn,identifierSystem=urn:oid:1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, format, in string
		want             []string // a fragment of each output line
	}{
		{"ndjson", FormatNDJSON, "{\"resourceType\":\"Patient\"}\n", []string{`"Patient"`}},
		{"bundle", FormatBundle, `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"1"}},{"resource":{"resourceType":"Location","id":"2"}}]}`,
			[]string{`"id":"1"`, `"Location"`}},
		{"csv", FormatCSV, "surname,first_name,dob,mrn\nBrontë,Charlotte,1816-04-21,42\nAusten,Jane,1775-12-16,43\n",
			[]string{`"Brontë"`, `"1775-12-16"`}},
	} {
		r, err := ToNDJSON(strings.NewReader(c.in), c.format, fields)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(c.want) {
			t.Fatalf("%s: %d lines, want %d:\n%s", c.name, len(lines), len(c.want), out)
		}
		for i, l := range lines {
			if !strings.Contains(l, c.want[i]) {
				t.Errorf("%s line %d: %s lacks %s", c.name, i+1, l, c.want[i])
			}
			if c.format == FormatCSV {
				if _, err := fhir.ParseResource([]byte(l), registry.TypePatient); err != nil {
					t.Errorf("%s line %d is not a valid Patient: %v\n%s", c.name, i+1, err, l)
				}
			}
		}
	}
}

// TestToNDJSONRefuses checks that bad input and a bad --map are errors
// before anything is loaded.
func TestToNDJSONRefuses(t *testing.T) {
	if _, err := ParseMap("shoe=size"); err == nil {
		t.Error("--map with an unknown field accepted")
	}
	if _, err := ToNDJSON(strings.NewReader(`{"resourceType":"Patient"}`), FormatBundle, nil); err == nil {
		t.Error("a Patient accepted as a Bundle")
	}
	if _, err := ToNDJSON(strings.NewReader("a,b\n1,2\n"), FormatCSV, nil); err == nil {
		t.Error("CSV without --map accepted")
	}
	r, err := ToNDJSON(strings.NewReader("a,b\n1,2\n"), FormatCSV, map[string]string{"family": "surname"})
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil || !strings.Contains(err.Error(), "no column") {
		t.Errorf("--map naming a missing column: %v", err)
	}
	if FormatOf("x.csv") != FormatCSV || FormatOf("x.json") != FormatBundle || FormatOf("x.ndjson") != FormatNDJSON {
		t.Error("FormatOf")
	}
}
