package matching_test

import (
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
