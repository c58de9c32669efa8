package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"idem/matching"
)

func matchParams(resource string, extra ...string) string {
	params := []string{`{"name":"resource","resource":` + resource + `}`}
	params = append(params, extra...)
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`
}

func person(family, given, birth, ssn, system, local string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":%q,"value":%q},{"system":"http://hl7.org/fhir/sid/us-ssn","value":%q}],
		"name":[{"family":%q,"given":[%q]}],"gender":"female","birthDate":%q,
		"address":[{"line":["12 Haworth Lane"],"city":"Keighley","postalCode":"BD22 8DR"}]}`, system, local, ssn, family, given, birth)
}

// searchEntries returns the match entries and the outcome entries of a searchset.
func searchEntries(t *testing.T, r *response) (matches, outcomes []map[string]any) {
	for _, e := range asList(r.json(t)["entry"]) {
		em := e.(map[string]any)
		if em["search"].(map[string]any)["mode"] == "outcome" {
			outcomes = append(outcomes, em)
		} else {
			matches = append(matches, em)
		}
	}
	return matches, outcomes
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestMatchOperation(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		var ids, goldens []string
		for _, body := range []string{
			person("Brontë", "Charlotte", "1816-04-21", "123-45-6789", "urn:oid:1.1", "A1"),
			person("Bronte", "Charlotte", "1816-04-21", "123-45-6789", "urn:oid:2.2", "B7"),
			person("Brontë", "Emily", "1818-07-30", "987-65-4321", "urn:oid:1.1", "A2"),
		} {
			id, golden := s.mustCreate("Patient", body)
			ids, goldens = append(ids, id), append(goldens, golden)
		}
		query := person("Bronty", "Charlotte", "1816-04-21", "123-45-6789", "urn:oid:3.3", "Z9")
		r := s.do("POST", "/Patient/$match", matchParams(query))
		if r.status != 200 {
			t.Fatalf("$match: %d %s", r.status, r.body)
		}
		matches, _ := searchEntries(t, r)
		if len(matches) < 2 {
			t.Fatalf("want both Charlotte records, got %d: %s", len(matches), truncate(r.body))
		}
		prev := 2.0
		for _, m := range matches {
			search := m["search"].(map[string]any)
			score, _ := search["score"].(float64)
			if score <= 0 || score > 1 || score > prev {
				t.Fatalf("scores not in (0,1] descending: %v", search["score"])
			}
			prev = score
			ext, _ := json.Marshal(search["extension"])
			for _, want := range []string{"match-grade", "match-evidence", `"url":"field"`, `"url":"level"`} {
				if !strings.Contains(string(ext), want) {
					t.Fatalf("search.extension lacks %s: %s", want, ext)
				}
			}
		}
		// Two certain matches linked to one Person are one entity: both.
		if goldens[0] == "" || goldens[1] != goldens[0] {
			t.Fatalf("the two Charlotte records are not linked to one Person: %v", goldens)
		}
		r = s.do("POST", "/Patient/$match", matchParams(query, `{"name":"onlyCertainMatches","valueBoolean":true}`))
		if m, out := searchEntries(t, r); r.status != 200 || len(m) != 2 || len(out) != 0 {
			t.Fatalf("onlyCertainMatches, one Person: %d matches, %d outcomes: %s", len(m), len(out), truncate(r.body))
		}
		// A steward says they are different people: then none (ITI-119 case 5).
		s.mustOK(200, "POST", "/$mdm-update-link", opBody("goldenResourceId", goldens[0], "resourceId", "Patient/"+ids[1], "matchResult", "NO_MATCH"))
		r = s.do("POST", "/Patient/$match", matchParams(query, `{"name":"onlyCertainMatches","valueBoolean":true}`))
		if m, out := searchEntries(t, r); r.status != 200 || len(m) != 0 || len(out) != 1 {
			t.Fatalf("onlyCertainMatches, two Persons: %d matches, %d outcomes: %s", len(m), len(out), truncate(r.body))
		}
		r = s.do("POST", "/Patient/$match", matchParams(query, `{"name":"count","valueInteger":1}`))
		if m, _ := searchEntries(t, r); len(m) != 1 {
			t.Fatalf("count=1 gave %d matches", len(m))
		}
		r = s.do("POST", "/Patient/$match", query) // a bare Patient is allowed
		if m, _ := searchEntries(t, r); r.status != 200 || len(m) < 2 {
			t.Fatalf("bare Patient: %d, %d matches", r.status, len(m))
		}
		r = s.do("POST", "/Patient/$match", person("Nobody", "Nemo", "2001-01-01", "000-00-0000", "urn:oid:9", "X"))
		if m, _ := searchEntries(t, r); r.status != 200 || len(m) != 0 {
			t.Fatalf("no match expected: %d %d", r.status, len(m))
		}
		runSteps(t, s, []step{
			{name: "no resource", method: "POST", path: "/Patient/$match", body: `{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":2}]}`, wantStatus: 400},
			{name: "wrong type", method: "POST", path: "/Patient/$match", body: matchParams(`{"resourceType":"Location","name":"x"}`), wantStatus: 400},
			{name: "unknown parameter", method: "POST", path: "/Patient/$match", body: matchParams(query, `{"name":"colour","valueString":"red"}`), wantStatus: 400},
			{name: "bad count", method: "POST", path: "/Patient/$match", body: matchParams(query, `{"name":"count","valueInteger":0}`), wantStatus: 400},
			{name: "invalid resource", method: "POST", path: "/Patient/$match", body: matchParams(`{"resourceType":"Patient","gender":"xyz"}`), wantStatus: 422},
			{name: "not matchable", method: "POST", path: "/Person/$match", body: `{"resourceType":"Person"}`, wantStatus: 404},
			{name: "empty", method: "POST", path: "/Patient/$match", wantStatus: 400},
			{name: "metadata lists it", method: "GET", path: "/metadata", wantStatus: 200, wantBody: []string{"Patient-match", "Practitioner-match"}},
		})
	})
}

func TestMatchPractitionerAndLocation(t *testing.T) {
	s := startServer(t, "sqlite")
	pr := `{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"9999912345"}],"name":[{"family":"Watson","given":["John"]}],"gender":"male"}`
	loc := `{"resourceType":"Location","name":"Saint Mary's Hospital","address":{"line":["Praed Street"],"city":"London","postalCode":"W2 1NY"},"position":{"latitude":51.5171,"longitude":-0.1746}}`
	for typ, body := range map[string]string{"Practitioner": pr, "Location": loc} {
		if r := s.do("POST", "/"+typ, body); r.status != 201 {
			t.Fatalf("create %s: %d %s", typ, r.status, r.body)
		}
		r := s.do("POST", "/"+typ+"/$match", matchParams(body))
		if m, _ := searchEntries(t, r); r.status != 200 || len(m) != 1 {
			t.Fatalf("%s/$match: %d, %d matches: %s", typ, r.status, len(m), truncate(r.body))
		}
	}
}

// A blocking key shared by more records than the cap is reported, never a silent no-match.
func TestMatchReportsCappedKeys(t *testing.T) {
	s := startServer(t, "sqlite")
	limit := matching.NewModel(matching.DefaultRules()).KeyCap("Patient")
	var entries []string
	for i := 0; i <= limit; i++ {
		entries = append(entries, `{"resource":{"resourceType":"Patient","name":[{"family":"Doe","given":["John"]}],"birthDate":"1900-01-01"},"request":{"method":"POST","url":"Patient"}}`)
	}
	if r := s.do("POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`); r.status != 200 {
		t.Fatalf("load: %d", r.status)
	}
	r := s.do("POST", "/Patient/$match", matchParams(`{"resourceType":"Patient","name":[{"family":"Doe","given":["John"]}],"birthDate":"1900-01-01"}`))
	_, out := searchEntries(t, r)
	if r.status != 200 || len(out) == 0 || !strings.Contains(string(r.body), "too-costly") {
		t.Fatalf("capped key not reported: %d %s", r.status, truncate(r.body))
	}
}
