package linkage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// TestJoiningRecordJudgedByCluster: a record that certainly matches one
// record of a golden record, but not its records together, goes to review
// instead of joining it — a son through his father's lab record without a
// birth date, a branch of a chain through the chain's record without an
// address, a hospital through a name cut short to its ward (a veto).
func TestJoiningRecordJudgedByCluster(t *testing.T) {
	jeffrey := func(src, birth string, phone bool) string {
		js := fmt.Sprintf(`{"resourceType":"Patient","meta":{"source":"%s"},"gender":"male","name":[{"family":"Fioretti","given":["Jeffrey"]}],
			"address":[{"line":["242 Oak Road"],"city":"Somerville","postalCode":"02143","state":"MA"}]`, src)
		if birth != "" {
			js += fmt.Sprintf(`,"birthDate":%q`, birth)
		}
		if phone {
			js += `,"telecom":[{"system":"phone","value":"857-864-9802"}]`
		}
		return js + "}"
	}
	lab := func(src, name, line, postalCode, phone string) string {
		js := fmt.Sprintf(`{"resourceType":"Location","meta":{"source":"%s"},"name":%q,
			"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"HLAB"}]}],
			"managingOrganization":{"identifier":{"system":"http://facilities.example.org/organization-id","value":"org002"}}`, src, name)
		if line != "" {
			js += fmt.Sprintf(`,"address":{"line":[%q],"city":"Boston","postalCode":%q}`, line, postalCode)
		}
		if phone != "" {
			js += fmt.Sprintf(`,"telecom":[{"system":"phone","value":%q}]`, phone)
		}
		return js + "}"
	}
	ward := func(src, name string) string {
		return fmt.Sprintf(`{"resourceType":"Location","meta":{"source":"%s"},"name":%q,
			"address":{"line":["5 Harbor Road"],"city":"Quincy"},"telecom":[{"system":"phone","value":"617-555-0100"}]}`, src, name)
	}
	tests := []struct {
		name                string
		first, second, join string // first and second are one golden record; join certainly matches second alone
		vetoed              bool
	}{
		{"son", jeffrey("http://ehr.example/fhir/Patient/1", "1961-02-18", true),
			jeffrey("http://lab.example/fhir/Patient/2", "", false),
			jeffrey("http://gp.example/fhir/Patient/3", "1989-03-07", false), false},
		{"branch", lab("http://ehr.example/fhir/Location/1", "Boston Clinical Laboratories", "118 Quincy Place", "02130", "617-620-8732"),
			lab("http://lab.example/fhir/Location/2", "Boston Clinical Labs.", "", "", ""),
			lab("http://gp.example/fhir/Location/3", "Boston Clinical Laboratories", "1000 Maple Lane", "02128", "857-660-1789"), false},
		{"hospital", ward("http://ehr.example/fhir/Location/1", "Southgate Memorial Hospital Ward 3"),
			ward("http://lab.example/fhir/Location/2", "Southgate Memorial Ho"),
			ward("http://gp.example/fhir/Location/3", "Southgate Memorial Hospital"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
				k := openLinked(t, s)
				k.create(t, tt.first)
				second := k.create(t, tt.second)
				if second.Golden == "" {
					t.Fatalf("the first two records are not linked")
				}
				join := k.create(t, tt.join)
				if join.Golden == second.Golden {
					t.Fatalf("the third record joined %s, which holds a record it does not match", second.Golden)
				}
				ref := join.Resource.Type + "/" + join.Resource.ID
				review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}})
				if len(review) != 1 || review[0].Golden() != second.Golden || review[0].Source() != ref {
					t.Fatalf("review %+v, want %s as a candidate of %s", review, ref, second.Golden)
				}
				var m matching.Match
				if err := json.Unmarshal(review[0].Evidence, &m); err != nil {
					t.Fatal(err)
				}
				last := m.Fields[len(m.Fields)-1]
				if last.Field != "cluster" || strings.Contains(last.Rule, "veto") != tt.vetoed || m.Grade == "certain" {
					t.Errorf("evidence grade %q, last field %+v", m.Grade, last)
				}
			})
		})
	}
}

// TestBridgingRecordAbsorbsWaiting: a lab's record without a birth date or
// an address (a typo in the family name) waits in review against a
// person's record; the person's next record shares the lab's e-mail
// address and certainly matches both. Judged against the cluster the
// lab's record is certain now: it joins the Person, its own Person is
// retired, and nothing is left in review or proposed as a duplicate.
func TestBridgingRecordAbsorbsWaiting(t *testing.T) {
	zofia := func(src, family, birth, extra string) string {
		js := fmt.Sprintf(`{"resourceType":"Patient","meta":{"source":"%s"},"gender":"female","name":[{"family":%q,"given":["Zofia"]}]`, src, family)
		if birth != "" {
			js += fmt.Sprintf(`,"birthDate":%q`, birth)
		}
		return js + extra + "}"
	}
	const (
		email = `,"telecom":[{"system":"email","value":"zofia.w@example.org"}]`
		home  = `,"address":[{"line":["12 Acacia Avenue"],"city":"Springfield","postalCode":"62704","state":"IL"}]`
		phone = `{"system":"phone","value":"555-201-3344"}`
	)
	// The third record shares the lab's e-mail address alone (it joins the
	// lab's Person, which takes the first record in), or the first record's
	// address and phone too (it joins the first record's Person, where the
	// lab's record waits in review and is alone in its own).
	thirds := map[string]string{
		"e-mail":                    email,
		"e-mail, address and phone": home + `,"telecom":[{"system":"email","value":"zofia.w@example.org"},` + phone + `]`,
	}
	for name, third := range thirds {
		// Each case in a database of its own.
		t.Run(name, func(t *testing.T) {
			sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
				bridgedBy(t, s, zofia, home+`,"telecom":[`+phone+`]`, email, third)
			})
		})
	}
}

// bridgedBy loads the first record, the lab's and the third, and checks
// that the three end in one Person with nothing left for a steward.
func bridgedBy(t *testing.T, s *sqlstore.Store, zofia func(src, family, birth, extra string) string, first, lab, third string) {
	t.Helper()
	k := openLinked(t, s)
	a := k.create(t, zofia("http://ehr.example/fhir/Patient/1", "Wisniewska", "1971-03-09", first))
	b := k.create(t, zofia("http://lab.example/fhir/Patient/2", "Wisniewsak", "", lab))
	if b.Golden == a.Golden {
		t.Fatal("the lab's record linked by itself")
	}
	if review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}}); len(review) != 1 {
		t.Fatalf("review %+v, want the lab's record as a candidate", review)
	}
	c := k.create(t, zofia("http://gp.example/fhir/Patient/3", "Wisniewska", "1971-03-09", third))
	var persons []string
	for _, o := range []*registry.Outcome{a, b, c} {
		ls := k.links(t, registry.LinkFilter{SourceType: "Patient", SourceID: o.Resource.ID, MatchResult: []string{registry.MatchResultMatch}})
		if len(ls) != 1 {
			t.Fatalf("Patient/%s has %d MATCH links", o.Resource.ID, len(ls))
		}
		persons = append(persons, ls[0].Golden())
	}
	if persons[0] != persons[1] || persons[1] != persons[2] {
		t.Fatalf("golden records %v, want one Person", persons)
	}
	left := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible, registry.MatchResultPossibleDuplicate}})
	if len(left) != 0 {
		t.Errorf("left for a steward: %+v", left)
	}
	if got := personLinks(k.read(t, persons[0])); len(got) != 3 {
		t.Errorf("Person links %v, want three records", got)
	}
	t.Logf("the third record joined the %s record's Person", map[bool]string{true: "first", false: "lab's"}[c.Golden == a.Golden])
	// Undoing the third record's decision gives back the two Persons and
	// the review item, as they were before it.
	if c.Decision == nil {
		t.Fatal("the third record's create recorded no linking decision")
	}
	if _, err := k.l.Undo(context.Background(), c.Decision.Op); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*registry.Outcome{a, b} {
		ls := k.links(t, registry.LinkFilter{SourceType: "Patient", SourceID: o.Resource.ID, MatchResult: []string{registry.MatchResultMatch}})
		if len(ls) != 1 || ls[0].Golden() != o.Golden {
			t.Fatalf("after the undo Patient/%s links %+v, want %s", o.Resource.ID, ls, o.Golden)
		}
		if k.read(t, o.Golden)["active"] != true {
			t.Errorf("after the undo %s is not active", o.Golden)
		}
	}
	review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}})
	if len(review) != 1 || review[0].Source() != "Patient/"+b.Resource.ID || review[0].Golden() != a.Golden {
		t.Errorf("after the undo review %+v, want the lab's record as a candidate of %s", review, a.Golden)
	}
}
