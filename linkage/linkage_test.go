package linkage

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T) (*sqlstore.Store, *registry.Service, *Matcher, *Models) {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	models := NewModels(s, matching.DefaultRules(), time.Hour, quiet)
	m := NewMatcher(s, models, quiet)
	return s, &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: m.Index}}, m, models
}

func create(t *testing.T, svc *registry.Service, js string) string {
	t.Helper()
	res, err := fhir.ParseResource([]byte(js), "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Create(context.Background(), res["resourceType"].(string), res, "")
	if err != nil {
		t.Fatal(err)
	}
	return out.Resource.ID
}

func TestSelectResults(t *testing.T) {
	c := func(grade string) Candidate { return Candidate{Match: &matching.Match{Grade: grade}} }
	cases := []struct {
		name      string
		in        []Candidate
		opts      MatchOptions
		same      bool // the certain ones are linked to one golden record
		want      int
		ambiguous bool
	}{
		{"all, default count", []Candidate{c("certain"), c("probable"), c("possible")}, MatchOptions{}, false, 3, false},
		{"count", []Candidate{c("certain"), c("probable"), c("possible")}, MatchOptions{Count: 2}, false, 2, false},
		{"one certain (case 3)", []Candidate{c("certain"), c("probable")}, MatchOptions{OnlyCertain: true}, false, 1, false},
		{"none certain (case 4)", []Candidate{c("probable")}, MatchOptions{OnlyCertain: true}, false, 0, false},
		{"several certain, one Person (case 3)", []Candidate{c("certain"), c("certain")}, MatchOptions{OnlyCertain: true}, true, 2, false},
		{"several certain, not known to be one (case 5)", []Candidate{c("certain"), c("certain")}, MatchOptions{OnlyCertain: true}, false, 0, true},
	}
	for _, tc := range cases {
		r := &MatchResult{Candidates: tc.in}
		got := selectResults(r, tc.opts, tc.same)
		if len(got) != tc.want || r.Ambiguous != tc.ambiguous {
			t.Errorf("%s: %d results (ambiguous %v), want %d (%v)", tc.name, len(got), r.Ambiguous, tc.want, tc.ambiguous)
		}
	}
}

func TestMatchFindsTypoVariant(t *testing.T) {
	_, svc, m, _ := open(t)
	id := create(t, svc, `{"resourceType":"Patient","name":[{"family":"Kowalczyk","given":["Zbigniew"]}],"birthDate":"1961-03-14","gender":"male"}`)
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Smith","given":["Anna"]}],"birthDate":"1990-01-01","gender":"female"}`)
	q, _ := fhir.ParseResource([]byte(`{"resourceType":"Patient","name":[{"family":"Kowalcyzk","given":["Zbigniew"]}],"birthDate":"1961-03-14"}`), "")
	out, err := m.Match(context.Background(), "Patient", q, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Candidates) != 1 || out.Candidates[0].Resource.ID != id || len(out.Candidates[0].Match.Fields) == 0 {
		t.Fatalf("got %+v", out.Candidates)
	}
	if _, err := m.Match(context.Background(), "Person", q, MatchOptions{}); registry.ErrorCode(err) != registry.ENotFound {
		t.Fatalf("Person $match: %v", err)
	}
}

// A model saved by one instance is used by another on its next refresh.
func TestModelsShareTrainedModel(t *testing.T) {
	s, _, _, _ := open(t)
	other := NewModels(s, matching.DefaultRules(), 0, quiet) // refreshes on every call
	base := other.Current(context.Background())
	trained := matching.NewModel(matching.DefaultRules())
	body, err := trained.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveModel(context.Background(), &registry.StoredModel{Created: time.Now(), Applied: time.Now(), Note: "test", Body: body}); err != nil {
		t.Fatal(err)
	}
	if got := other.Current(context.Background()); got == base || got.Version != trained.Version {
		t.Fatalf("other instance still uses %s", got.Version)
	}
}

func TestReindex(t *testing.T) {
	s, svc, m, _ := open(t)
	create(t, svc, `{"resourceType":"Patient","name":[{"family":"Reindex","given":["Ada"]}],"birthDate":"1950-05-05"}`)
	plain := &registry.Service{Store: s} // written without keys, as before a rules change
	create(t, plain, `{"resourceType":"Patient","name":[{"family":"Reindex","given":["Ada"]}],"birthDate":"1950-05-05"}`)
	q, _ := fhir.ParseResource([]byte(`{"resourceType":"Patient","name":[{"family":"Reindex","given":["Ada"]}],"birthDate":"1950-05-05"}`), "")
	before, _ := m.Match(context.Background(), "Patient", q, MatchOptions{})
	n, err := Reindex(context.Background(), s, m, "Patient")
	if err != nil || n != 2 {
		t.Fatalf("reindex: %d %v", n, err)
	}
	after, _ := m.Match(context.Background(), "Patient", q, MatchOptions{})
	if len(before.Candidates) != 1 || len(after.Candidates) != 2 {
		t.Fatalf("candidates before %d, after %d", len(before.Candidates), len(after.Candidates))
	}
}
