package seed

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"idem/registry/fhir"
)

// small is a network small enough to check every record.
var small = Config{Seed: 7, Persons: 600, Practitioners: 80, Locations: 60}

// mustGenerate collects every record and hard negative of cfg.
func mustGenerate(t testing.TB, cfg Config) ([]Record, []HardNegative) {
	t.Helper()
	var recs []Record
	var negs []HardNegative
	err := GenerateWith(cfg, func(r Record) error {
		recs = append(recs, r)
		return nil
	}, func(h HardNegative) error {
		negs = append(negs, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, negs
}

func TestDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := WriteNDJSON(dir, small); err != nil {
			t.Fatal(err)
		}
	}
	other := small
	other.Seed++
	if _, err := WriteNDJSON(c, other); err != nil {
		t.Fatal(err)
	}
	files := []string{NDJSONFile(TypePatient), NDJSONFile(TypePractitioner), NDJSONFile(TypeLocation), TruthFile, HardNegativesFile, SummaryFile}
	for _, name := range files {
		x, y, z := readFile(t, a, name), readFile(t, b, name), readFile(t, c, name)
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same Config", name)
		}
		if name != SummaryFile && bytes.Equal(x, z) {
			t.Errorf("%s is the same for seeds %d and %d", name, small.Seed, other.Seed)
		}
	}
}

// TestGroupsIndependent checks that each group depends only on the seed and
// its index: a bigger network starts with exactly the smaller one's people.
func TestGroupsIndependent(t *testing.T) {
	less, _ := mustGenerate(t, Config{Seed: 3, Persons: 200})
	more, _ := mustGenerate(t, Config{Seed: 3, Persons: 400})
	for i, r := range less {
		got, want := fhir.MarshalResource(more[i].Resource), fhir.MarshalResource(r.Resource)
		if !bytes.Equal(got, want) || more[i].Entity != r.Entity {
			t.Fatalf("record %d differs:\n%s\n%s", i, got, want)
		}
	}
}

func TestValidFHIR(t *testing.T) {
	recs, _ := mustGenerate(t, small)
	strict, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		// As built in Go (what a loader hands to the registry) and as JSON.
		if err := fhir.ValidateResource(r.Resource); err != nil {
			t.Errorf("%s %s: %v", r.System, r.LocalID, err)
		}
		body := fhir.MarshalResource(r.Resource)
		if _, err := fhir.ParseResource(body, r.Type); err != nil {
			t.Errorf("%s %s: %v\n%s", r.System, r.LocalID, err, body)
		}
		if _, err := strict.UnmarshalR4(body); err != nil {
			t.Errorf("%s %s: not valid for Google's FHIR parser: %v\n%s", r.System, r.LocalID, err, body)
		}
		checkSourceIdentity(t, r, body)
	}
}

// checkSourceIdentity checks what ties a resource to its source: meta.source,
// the id, and the local identifier in the system's own identifier system;
// and that the ground truth is not inside.
func checkSourceIdentity(t *testing.T, r Record, body []byte) {
	t.Helper()
	res := r.Resource
	if src := res["meta"].(map[string]any)["source"]; src != SourceURL(r.System, r.Type, r.LocalID) || res["id"] != r.LocalID || res["resourceType"] != r.Type {
		t.Errorf("%s: meta.source %v, id %v, resourceType %v", r.LocalID, src, res["id"], res["resourceType"])
	}
	idSystem := ""
	for _, s := range Systems() {
		if s.URI == r.System {
			idSystem = s.Identifiers[r.Type]
		}
	}
	found := false
	for _, id := range res["identifier"].([]any) {
		m := id.(map[string]any)
		found = found || m["system"] == idSystem && m["value"] == r.LocalID
	}
	if !found {
		t.Errorf("%s: no identifier %s|%s", r.LocalID, idSystem, r.LocalID)
	}
	if bytes.Contains(body, []byte(r.Entity+`"`)) || bytes.Contains(body, []byte(`"`+r.Entity)) {
		t.Errorf("%s: the resource names its ground-truth entity %s", r.LocalID, r.Entity)
	}
}

func TestTruth(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Seed: 11, Persons: 4000, Practitioners: 400, Locations: 200}
	sum, err := WriteNDJSON(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, dir, TruthFile)
	if rows[0][0] != "type" || len(rows)-1 != sum.Total() {
		t.Fatalf("truth.csv has %d rows for %d records", len(rows)-1, sum.Total())
	}
	seen := map[string]bool{}
	entities := map[string]map[string]int{} // type → entity → records
	for _, row := range rows[1:] {
		key := row[0] + "|" + row[1] + "|" + row[2]
		if seen[key] {
			t.Errorf("local id used twice: %s", key)
		}
		seen[key] = true
		if entities[row[0]] == nil {
			entities[row[0]] = map[string]int{}
		}
		entities[row[0]][row[3]]++
	}
	for typ, want := range map[string]int{TypePatient: cfg.Persons, TypePractitioner: cfg.Practitioners, TypeLocation: cfg.Locations} {
		if got := len(entities[typ]); got != want || sum.Entities[typ] != want {
			t.Errorf("%s: %d entities in truth.csv, %d in the summary, want %d", typ, got, sum.Entities[typ], want)
		}
		countLines(t, dir, typ, sum)
	}
	checkShares(t, entities[TypePatient], sum)
}

// checkShares compares the persons' record counts with the default rates:
// 45% of persons in two or three systems, plus 4% within-system duplicates.
func checkShares(t *testing.T, persons map[string]int, sum Summary) {
	t.Helper()
	multi, pairs := 0, 0
	for _, n := range persons {
		if n > 1 {
			multi++
		}
		pairs += n * (n - 1) / 2
	}
	share := float64(multi) / float64(len(persons))
	if share < 0.43 || share > 0.53 {
		t.Errorf("%.3f of persons have several records, want about 0.47", share)
	}
	within := float64(sum.WithinSystem[TypePatient]) / float64(len(persons))
	if within < 0.025 || within > 0.055 {
		t.Errorf("%.3f within-system duplicates per person, want about 0.04", within)
	}
	if pairs != sum.TruePairs[TypePatient] {
		t.Errorf("truth.csv gives %d true pairs, the summary %d", pairs, sum.TruePairs[TypePatient])
	}
	for _, s := range []int{sysEHR, sysLab, sysGP} {
		if sum.Records[TypePatient][systems[s].URI] < len(persons)/5 {
			t.Errorf("%s holds only %d patients", systems[s].Name, sum.Records[TypePatient][systems[s].URI])
		}
	}
}

// countLines checks that the NDJSON file has one line per record.
func countLines(t *testing.T, dir, typ string, sum Summary) {
	t.Helper()
	want := 0
	for _, n := range sum.Records[typ] {
		want += n
	}
	if got := bytes.Count(readFile(t, dir, NDJSONFile(typ)), []byte("\n")); got != want {
		t.Errorf("%s: %d lines, %d records", NDJSONFile(typ), got, want)
	}
}

func TestErrorKindsOccur(t *testing.T) {
	var sum Summary
	err := Generate(Config{Seed: 5, Persons: 3000, Practitioners: 300, Locations: 400}, func(r Record) error {
		sum.Add(r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range ErrorKinds() {
		if sum.Errors[kind] == 0 && !slices.Contains(profileErrorKinds, kind) {
			t.Errorf("no record shows error kind %q", kind)
		}
	}
	for kind := range sum.Errors {
		if !slices.Contains(ErrorKinds(), kind) {
			t.Errorf("undocumented error kind %q", kind)
		}
	}
}

func TestHardNegatives(t *testing.T) {
	recs, negs := mustGenerate(t, Config{Seed: 9, Persons: 2000, Practitioners: 400, Locations: 400})
	kinds := map[string]int{}
	for _, h := range negs {
		kinds[h.Type+" "+h.Kind]++
	}
	for _, k := range []string{"Patient twins", "Patient household", "Patient junior", "Patient namesake",
		"Practitioner namesake", "Location campus", "Location namesake"} {
		if kinds[k] == 0 {
			t.Errorf("no hard negatives of kind %s", k)
		}
	}
	byEntity := map[string][]Record{}
	for _, r := range recs {
		byEntity[r.Entity] = append(byEntity[r.Entity], r)
	}
	for _, h := range negs {
		if h.Kind == "twins" {
			checkTwins(t, byEntity[h.A], byEntity[h.B])
		}
	}
}

// checkTwins compares the clean records of two twins: same family name,
// birth date and address, different given names.
func checkTwins(t *testing.T, a, b []Record) {
	t.Helper()
	ra, rb := clean(a), clean(b)
	if ra == nil || rb == nil || ra.System != rb.System {
		return
	}
	na, nb := ra.Resource["name"].([]any)[0].(map[string]any), rb.Resource["name"].([]any)[0].(map[string]any)
	if na["family"] != nb["family"] || ra.Resource["birthDate"] != rb.Resource["birthDate"] {
		t.Errorf("twins %s and %s: %v %v / %v %v", ra.Entity, rb.Entity, na["family"], ra.Resource["birthDate"], nb["family"], rb.Resource["birthDate"])
	}
	if na["given"].([]any)[0] == nb["given"].([]any)[0] {
		t.Errorf("twins %s and %s share the given name %v", ra.Entity, rb.Entity, na["given"])
	}
}

// clean returns an error-free EHR record, if there is one.
func clean(recs []Record) *Record {
	for i, r := range recs {
		if len(r.Errors) == 0 && r.System == systems[sysEHR].URI {
			return &recs[i]
		}
	}
	return nil
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Persons: -1},
		{Persons: maxEntities + 1},
		{Persons: 10, TwoSystems: 0.8, ThreeSystems: 0.3},
		{Persons: 10, Household: 0.9, Twins: 0.1, Namesakes: 0.1},
		{Persons: 10, WithinSystem: 1.5},
		{Persons: 10, ErrorRate: 11},
	}
	for _, cfg := range bad {
		if err := Generate(cfg, func(Record) error { return nil }); err == nil {
			t.Errorf("Generate(%+v) accepted an invalid Config", cfg)
		}
	}
	none := Config{Persons: 400, ErrorRate: -1, IdentifierTypo: -1, MoveRate: -1, MarriageRate: -1}
	recs, _ := mustGenerate(t, none)
	for _, r := range recs {
		// Only the GP practice's habit of recording the name people go by remains.
		if slices.ContainsFunc(r.Errors, func(e string) bool { return e != "nickname" }) {
			t.Fatalf("%s shows %v with all error rates negative", r.LocalID, r.Errors)
		}
	}
}

func TestSystems(t *testing.T) {
	s := Systems()
	if len(s) < 3 {
		t.Fatalf("%d systems", len(s))
	}
	s[0].Identifiers[TypePatient] = "changed"
	if Systems()[0].Identifiers[TypePatient] == "changed" {
		t.Error("Systems returns shared maps")
	}
	holds := 0
	for _, sys := range Systems() {
		if sys.Holds(TypePatient) {
			holds++
		}
		if !strings.HasPrefix(sys.URI, "http://") || len(sys.Types()) == 0 {
			t.Errorf("system %+v", sys)
		}
	}
	if holds < 3 {
		t.Errorf("%d systems hold patients, want at least 3", holds)
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, dir, name string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(readFile(t, dir, name))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Seed: 1, Persons: 10000, Practitioners: 200, Locations: 100}
	records := 0
	for b.Loop() {
		if err := Generate(cfg, func(Record) error { records++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkWriteNDJSON(b *testing.B) {
	cfg := Config{Seed: 1, Persons: 10000, Practitioners: 200, Locations: 100}
	dir := b.TempDir()
	records := 0
	for b.Loop() {
		sum, err := WriteNDJSON(dir, cfg)
		if err != nil {
			b.Fatal(err)
		}
		records += sum.Total()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
