package matching_test

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// TestEncodeRoundTrip checks that a decoded record is, for matching, the
// record Extract made: the same blocking keys, and the same score and
// explanation against its neighbours, for every type of a generated
// network (errors, missing fields, multi-word names, positions).
func TestEncodeRoundTrip(t *testing.T) {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = 3, 300, 60, 40
	var recs []*matching.Record
	err := seed.Generate(cfg, func(r seed.Record) error {
		recs = append(recs, matching.Extract(r.Type, r.Resource))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	model := matching.NewModel(matching.DefaultRules())
	for i, r := range recs {
		d, err := matching.DecodeRecord(r.Encode())
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !slices.Equal(model.Keys(r), model.Keys(d)) {
			t.Fatalf("record %d (%s): keys %v, decoded %v", i, r.Type, model.Keys(r), model.Keys(d))
		}
		for _, j := range []int{i - 2, i - 1, i + 1} {
			if j < 0 || j >= len(recs) || recs[j].Type != r.Type {
				continue
			}
			want, got := model.Explain(recs[j], r, nil), model.Explain(recs[j], d, nil)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("record %d against %d (%s): explanation differs (-extracted +decoded):\n%s", i, j, r.Type, diff)
			}
		}
	}
}

// generatedRecords extracts the Patients, Practitioners and Locations of
// generated networks of every generator profile (sparse records, many
// names and addresses, positions).
func generatedRecords(tb testing.TB) []*matching.Record {
	tb.Helper()
	var recs []*matching.Record
	for i, profile := range []string{"default", "sparse", "many", "geocoded"} {
		cfg := seed.DefaultConfig()
		cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = uint64(11+i), 400, 80, 60
		cfg.Profile = profile
		err := seed.Generate(cfg, func(r seed.Record) error {
			recs = append(recs, matching.Extract(r.Type, r.Resource))
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return recs
}

// TestDecodeRecordExact checks that decoding gives back exactly the record
// Extract made, derived forms included, from the current format and from
// format 2 (records stored before format 3), and that decoded records
// score every pair of neighbours as the extracted ones do, to the bit.
func TestDecodeRecordExact(t *testing.T) {
	recs := generatedRecords(t)
	model := matching.NewModel(matching.DefaultRules())
	tf := matching.NewFrequencyTable(recs)
	for _, format := range []struct {
		name   string
		encode func(*matching.Record) []byte
	}{{"current", (*matching.Record).Encode}, {"format 2", matching.EncodeV2}} {
		decoded := make([]*matching.Record, len(recs))
		for i, r := range recs {
			d, err := matching.DecodeRecord(format.encode(r))
			if err != nil {
				t.Fatalf("%s: record %d: %v", format.name, i, err)
			}
			if diff := matching.DiffRecord(r, d); diff != "" {
				t.Fatalf("%s: record %d (%s) differs (-extracted +decoded):\n%s", format.name, i, r.Type, diff)
			}
			decoded[i] = d
		}
		pairs := 0
		for i, r := range recs {
			for j := max(i-8, 0); j < i; j++ {
				if recs[j].Type != r.Type {
					continue
				}
				want := model.Score(recs[j], r, tf)
				for _, p := range [][2]*matching.Record{{recs[j], decoded[i]}, {decoded[j], r}, {decoded[j], decoded[i]}} {
					if got := model.Score(p[0], p[1], tf); math.Float64bits(got) != math.Float64bits(want) {
						t.Fatalf("%s: records %d and %d (%s): score %v, decoded %v", format.name, j, i, r.Type, want, got)
					}
				}
				pairs++
			}
		}
		t.Logf("%s: %d records decoded alike, %d pairs scored alike", format.name, len(recs), pairs)
	}
}

// TestDecodeRecordFormat2Golden decodes bytes format 2 wrote (by the
// encoder of the time, kept here) for a Patient with every kind of value.
func TestDecodeRecordFormat2Golden(t *testing.T) {
	res := map[string]any{"resourceType": "Patient", "id": "p1",
		"identifier": []any{map[string]any{"system": "http://hospital.example/mrn", "value": " A-1234 "}},
		"name": []any{map[string]any{"family": "van der Berg", "given": []any{"Anne-Marie", "Jo"}},
			map[string]any{"text": "Dr Annie Berg"}},
		"birthDate": "1970-03-12", "gender": "female",
		"address": []any{map[string]any{"line": []any{"12 Church Lane", "Flat 3"}, "city": "Haworth", "postalCode": "BD22 8DR"},
			map[string]any{"city": "Haworth", "postalCode": "02130-8815", "state": "MA", "country": "US"}},
		"telecom": []any{map[string]any{"system": "phone", "value": "+44 1535 642323", "use": "mobile"},
			map[string]any{"system": "email", "value": "Anne@Example.org"}}}
	// written by Encode at 72184f9, the last commit with format 2
	golden := []byte("\x02\aPatient\x02p1\x06\nAnne-Marie\x04anne\x05marie\x02Jo\x02Dr\x05Annie\x02\fvan der Berg" +
		"\x04berg\x00\x00\x01\x06female\x01\x1512 Church Lane Flat 3\x01\aHaworth\x02\bBD22 8DR\n02130-8815\x01\x02MA" +
		"\x01\x02US\x01\x0f+44 1535 642323\x01\x10Anne@Example.org\x00\x00\x00\x00\x00\x00\x02\x02Jo\x05Annie" +
		"\x01\x0f+44 1535 642323\x00(\x17\n1970-03-12\x01\x1bhttp://hospital.example/mrn\x06A-1234\x00\x02\x00\x00" +
		"\x00\xff\x00\x01")
	want := matching.Extract(registry.TypePatient, res)
	if diff := cmp.Diff(golden, matching.EncodeV2(want)); diff != "" {
		t.Errorf("encodeV2 differs from the golden bytes (-golden +encodeV2):\n%s", diff)
	}
	got, err := matching.DecodeRecord(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := matching.DiffRecord(want, got); diff != "" {
		t.Errorf("decoded format 2 differs (-extracted +decoded):\n%s", diff)
	}
}

// TestDecodeRecordBadInput checks that truncated or foreign bytes are an
// error, never a panic.
func TestDecodeRecordBadInput(t *testing.T) {
	good := matching.Extract(registry.TypePatient, map[string]any{"resourceType": "Patient",
		"name": []any{map[string]any{"family": "Brontë", "given": []any{"Charlotte"}}}, "birthDate": "1816-04-21"}).Encode()
	for n := 0; n < len(good); n++ {
		if _, err := matching.DecodeRecord(good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	for _, b := range [][]byte{nil, {0}, {2, 1, 'x'}, {1, 200, 200, 200, 200, 200, 200, 200, 200, 200, 1}} {
		if _, err := matching.DecodeRecord(b); err == nil {
			t.Errorf("%v: no error", b)
		}
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	rec := matching.Extract(registry.TypePatient, map[string]any{"resourceType": "Patient",
		"identifier": []any{map[string]any{"system": "http://hospital.example/mrn", "value": "A-1234"}},
		"name":       []any{map[string]any{"family": "Brontë", "given": []any{"Charlotte", "Ann"}}}, "birthDate": "1816-04-21",
		"gender":  "female",
		"address": []any{map[string]any{"line": []any{"12 Church Lane"}, "city": "Haworth", "postalCode": "BD22 8DR"}},
		"telecom": []any{map[string]any{"system": "phone", "value": "+44 1535 642323"}}}).Encode()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := matching.DecodeRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRecordGenerated decodes the records of a generated
// network in turn, as the linker decodes the candidates blocking finds:
// Patients, Practitioners and Locations with the network's errors, missing
// fields and repeated names.
func BenchmarkDecodeRecordGenerated(b *testing.B) {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = 5, 1000, 100, 60
	var encoded [][]byte
	err := seed.Generate(cfg, func(r seed.Record) error {
		encoded = append(encoded, matching.Extract(r.Type, r.Resource).Encode())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := matching.DecodeRecord(encoded[i%len(encoded)]); err != nil {
			b.Fatal(err)
		}
	}
}
