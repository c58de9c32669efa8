package seed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadFEBRL(t *testing.T) {
	const data = "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id\n" +
		"rec-223-org, , waller, 6, tullaroop street, willaroo, st james, 0811, wa, 19081209, 0988048\n" +
		"rec-223-dup-0, jo, waller, , , , , , , 19080231, \n" +
		"rec-7-dup-2,kayla,harrington,12,maltby circuit,,coolaroo,3465,nsw,,9004242\n"
	pats, ent, err := ReadFEBRL(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{
			"resourceType": "Patient", "id": "rec-223-org",
			"name": []any{map[string]any{"family": "waller"}},
			"address": []any{map[string]any{
				"line": []any{"6 tullaroop street", "willaroo"}, "city": "st james", "postalCode": "0811", "state": "wa",
			}},
			"birthDate":  "1908-12-09",
			"identifier": []any{map[string]any{"system": FEBRLSystem, "value": "0988048"}},
		},
		{ // 31 February is impossible: no birthDate; blank columns: no elements
			"resourceType": "Patient", "id": "rec-223-dup-0",
			"name": []any{map[string]any{"family": "waller", "given": []any{"jo"}}},
		},
		{
			"resourceType": "Patient", "id": "rec-7-dup-2",
			"name": []any{map[string]any{"family": "harrington", "given": []any{"kayla"}}},
			"address": []any{map[string]any{
				"line": []any{"12 maltby circuit"}, "city": "coolaroo", "postalCode": "3465", "state": "nsw",
			}},
			"identifier": []any{map[string]any{"system": FEBRLSystem, "value": "9004242"}},
		},
	}
	if diff := cmp.Diff(want, pats); diff != "" {
		t.Errorf("patients (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"223", "223", "7"}, ent); diff != "" {
		t.Errorf("entities (-want +got):\n%s", diff)
	}
}

func TestReadFEBRLErrors(t *testing.T) {
	tests := map[string]string{
		"empty":          "",
		"missing column": "rec_id, given_name\nrec-1-org, a\n",
		"bad rec_id":     strings.Join(febrlColumns, ",") + "\nrecord-1,,,,,,,,,,\n",
		"short row":      strings.Join(febrlColumns, ",") + "\nrec-1-org,a\n",
	}
	for name, data := range tests {
		if _, _, err := ReadFEBRL(strings.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFHIRID(t *testing.T) {
	for in, want := range map[string]string{
		"rec-1-dup-0":           "rec-1-dup-0",
		"rec_1 x":               "rec-1-x",
		strings.Repeat("a", 70): strings.Repeat("a", 64),
	} {
		if got := fhirID(in); got != want {
			t.Errorf("fhirID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadFEBRLShared reads the shared FEBRL files, when present: every row
// maps, and the true pair counts match the data README.
func TestReadFEBRLShared(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "febrl")
	for file, wantPairs := range map[string]int{"dataset1.csv": 500, "dataset2.csv": 1934} {
		f, err := os.Open(filepath.Join(dir, file))
		if os.IsNotExist(err) {
			t.Skipf("%s absent", dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		pats, ent, err := ReadFEBRL(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		counts := map[string]int{}
		for _, e := range ent {
			counts[e]++
		}
		pairs := 0
		for _, n := range counts {
			pairs += n * (n - 1) / 2
		}
		if pairs != wantPairs || len(pats) != len(ent) {
			t.Errorf("%s: %d rows, %d true pairs, want %d", file, len(pats), pairs, wantPairs)
		}
	}
}
