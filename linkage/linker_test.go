package linkage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// linked is a registry with the linker wired as app wires it.
type linked struct {
	s   *sqlstore.Store
	svc *registry.Service
	l   *Linker
}

func openLinked(t *testing.T, s *sqlstore.Store) *linked {
	t.Helper()
	models := NewModels(s, matching.DefaultRules(), time.Hour, quiet)
	m := NewMatcher(s, models, quiet)
	w := &registry.Writer{MatchIndex: m.Index}
	l := NewLinker(s, w, m, LinkerConfig{}, quiet)
	svc := &registry.Service{Store: s, Writer: w, Steps: registry.Steps{Link: l}}
	return &linked{s: s, svc: svc, l: l}
}

func (k *linked) create(t *testing.T, js string) *registry.Outcome {
	t.Helper()
	res, err := fhir.ParseResource([]byte(js), "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.svc.Create(context.Background(), res["resourceType"].(string), res, "")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (k *linked) read(t *testing.T, ref string) map[string]any {
	t.Helper()
	rf, err := registry.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.svc.Read(context.Background(), rf.Type, rf.ID)
	if err != nil {
		t.Fatalf("read %s: %v", ref, err)
	}
	body, err := registry.DecodeStored(r)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func (k *linked) links(t *testing.T, f registry.LinkFilter) []*registry.Link {
	t.Helper()
	page, err := k.s.QueryLinks(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return page.Links
}

// patient renders a Patient from source system src with local id local.
func patient(src, local, given, family, birth, phone string, extra ...string) string {
	js := fmt.Sprintf(`{"resourceType":"Patient","meta":{"source":%q},"identifier":[{"system":%q,"value":%q}],
		"name":[{"family":%q,"given":[%q]}],"gender":"female","birthDate":%q,
		"telecom":[{"system":"phone","value":%q}],"address":[{"line":["12 Acacia Avenue"],"city":"Springfield","postalCode":"62704"}]`,
		src+"/Patient/"+local, src+"/mrn", local, family, given, birth, phone)
	for _, e := range extra {
		js += "," + e
	}
	return js + "}"
}

// personLinks returns the Person's link targets.
func personLinks(p map[string]any) []string {
	var out []string
	links, _ := p["link"].([]any)
	for _, l := range links {
		out = append(out, l.(map[string]any)["target"].(map[string]any)["reference"].(string))
	}
	return out
}

func TestLinkOnWrite(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openLinked(t, s)
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		if !strings.HasPrefix(a.Golden, "Person/") {
			t.Fatalf("first record golden %q, want a new Person", a.Golden)
		}
		// The same person from the lab, with a typo: linked to the same Person.
		b := k.create(t, patient("http://lab.example/fhir", "9", "Zofia", "Wisniewsak", "1971-03-09", "(555) 201 3344"))
		if b.Golden != a.Golden {
			t.Fatalf("duplicate linked to %q, want %q", b.Golden, a.Golden)
		}
		p := k.read(t, a.Golden)
		if got := personLinks(p); len(got) != 2 || p["active"] != true {
			t.Fatalf("Person links %v active %v", got, p["active"])
		}
		ids := p["identifier"].([]any)
		if len(ids) != 3 { // its own enterprise id and one MRN per source
			t.Fatalf("Person identifiers %v", ids)
		}
		if tel := p["telecom"].([]any); len(tel) != 1 { // one number, written two ways
			t.Fatalf("Person telecom %v, want the number once", tel)
		}
		if p["_birthDate"] == nil || p["meta"].(map[string]any)["tag"] == nil {
			t.Fatalf("Person lacks value sources or the golden tag: %v", p)
		}
		// Someone else: a Person of their own.
		c := k.create(t, patient("http://ehr.example/fhir", "2", "Marek", "Kowalczyk", "1958-11-23", "555-909-1212"))
		if c.Golden == a.Golden || c.Golden == "" {
			t.Fatalf("unrelated record golden %q", c.Golden)
		}
		// Person?link= finds the Person.
		_, page, err := k.svc.Search(context.Background(), "Person", url.Values{"link": {"Patient/" + b.Resource.ID}}, true)
		if err != nil || len(page.Matches) != 1 || "Person/"+page.Matches[0].ID != a.Golden {
			t.Fatalf("Person?link= found %v, err %v", page, err)
		}
		// Re-pushing the record by its source URL updates it in place.
		res, _ := fhir.ParseResource([]byte(patient("http://lab.example/fhir", "9", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344")), "")
		out, err := k.svc.ConditionalUpdate(context.Background(), "Patient", url.Values{"_source": {"http://lab.example/fhir/Patient/9"}}, res, 0)
		if err != nil || out.Created || out.Golden != a.Golden {
			t.Fatalf("conditional update by _source: %+v, %v", out, err)
		}
	})
}

// TestGoldenRecordBounded: a record with more identifiers than a golden
// record keeps does not grow its Person past MaxGoldenValues of them.
func TestGoldenRecordBounded(t *testing.T) {
	s, _, _, _ := open(t)
	k := openLinked(t, s)
	var ids []string
	for i := 0; i < 2*MaxGoldenValues; i++ {
		ids = append(ids, fmt.Sprintf(`{"system":"http://ehr.example/other","value":"X%d"}`, i))
	}
	a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
	res, _ := fhir.ParseResource([]byte(patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344")), "")
	res["id"] = a.Resource.ID
	res["identifier"] = append(res["identifier"].([]any), mustJSONList(t, "["+strings.Join(ids, ",")+"]")...)
	if _, err := k.svc.Update(context.Background(), "Patient", a.Resource.ID, res, 0); err != nil {
		t.Fatal(err)
	}
	if n := len(k.read(t, a.Golden)["identifier"].([]any)); n > MaxGoldenValues+1 {
		t.Fatalf("Person holds %d identifiers, want at most %d and its own", n, MaxGoldenValues)
	}
}

func mustJSONList(t *testing.T, js string) []any {
	t.Helper()
	m, err := fhir.DecodeJSON([]byte(`{"l":` + js + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return m["l"].([]any)
}

func TestReviewAndStewardDecisions(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "steward-ann", Kind: "user"})
		k := openLinked(t, s)
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		// The same name and nothing else: uncertain.
		b := k.create(t, `{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/7"},
			"name":[{"family":"Wisniewska","given":["Zofia"]}]}`)
		if b.Golden == a.Golden || b.Golden == "" {
			t.Fatalf("uncertain pair: golden %q (first %q), want a Person of its own", b.Golden, a.Golden)
		}
		review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}})
		if len(review) != 1 || review[0].Golden() != a.Golden || review[0].Source() != "Patient/"+b.Resource.ID || review[0].Evidence == nil {
			t.Fatalf("review items %+v", review)
		}
		before := k.read(t, a.Golden)
		// The steward confirms: b moves to a's Person, b's own Person retires.
		if _, err := k.l.SetLink(ctx, a.Golden, "Patient/"+b.Resource.ID, registry.MatchResultMatch, true); err != nil {
			t.Fatal(err)
		}
		if got := personLinks(k.read(t, a.Golden)); len(got) != 2 {
			t.Fatalf("after the match the Person links %v", got)
		}
		if old := k.read(t, b.Golden); old["active"] != false {
			t.Fatalf("emptied Person still active: %v", old)
		}
		hist, err := k.s.LinkHistory(context.Background(), nil, []string{b.Resource.ID})
		if err != nil || len(hist) == 0 {
			t.Fatalf("link history %v, %v", hist, err)
		}
		last := hist[len(hist)-1]
		// Undo restores the links and both Persons exactly.
		undo, err := k.l.Undo(ctx, last.OpID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameContent(before, k.read(t, a.Golden)) {
			t.Fatalf("undo did not restore the Person:\n%v\n%v", before, k.read(t, a.Golden))
		}
		if k.read(t, b.Golden)["active"] != true {
			t.Fatalf("undo did not restore the record's own Person")
		}
		if review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}}); len(review) != 1 {
			t.Fatalf("undo did not restore the review item: %+v", review)
		}
		if _, err := k.l.Undo(ctx, last.OpID); registry.ErrorCode(err) != registry.EConflict {
			t.Fatalf("second undo: %v, want a conflict", err)
		}
		// The undo is a decision too: undoing it re-applies the match.
		if _, err := k.l.Undo(ctx, undo.ID); err != nil {
			t.Fatal(err)
		}
		if got := personLinks(k.read(t, a.Golden)); len(got) != 2 {
			t.Fatalf("undo of the undo: Person links %v", got)
		}
		// Re-matching b never overrides the steward's MANUAL link.
		res := k.read(t, "Patient/"+b.Resource.ID)
		out, err := k.svc.Update(context.Background(), "Patient", b.Resource.ID, res, 0)
		if err != nil || out.Golden != a.Golden {
			t.Fatalf("update after a manual link: golden %q, %v", out.Golden, err)
		}
	})
}

func TestMergeAndNotDuplicate(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "steward-ann", Kind: "user"})
		k := openLinked(t, s)
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		c := k.create(t, patient("http://ehr.example/fhir", "2", "Marek", "Kowalczyk", "1958-11-23", "555-909-1212"))
		if err := k.l.Merge(ctx, c.Golden, a.Golden); err != nil {
			t.Fatal(err)
		}
		retired := k.read(t, c.Golden)
		if retired["active"] != false || !strings.Contains(fmt.Sprint(retired["link"]), a.Golden) {
			t.Fatalf("merged-away Person %v", retired)
		}
		if got := personLinks(k.read(t, a.Golden)); len(got) != 2 {
			t.Fatalf("surviving Person links %v", got)
		}
		if err := k.l.Merge(ctx, c.Golden, c.Golden); registry.ErrorCode(err) != registry.EInvalid {
			t.Fatalf("merge into itself: %v", err)
		}
		if err := k.l.Merge(ctx, "Person/nope", a.Golden); registry.ErrorCode(err) != registry.ENotFound {
			t.Fatalf("merge of an unknown Person: %v", err)
		}
		if err := k.l.NotDuplicate(ctx, a.Golden, c.Golden); err != nil {
			t.Fatal(err)
		}
		if nm := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultNoMatch}}); len(nm) != 1 {
			t.Fatalf("not-duplicate links %+v", nm)
		}
	})
}

func TestConcurrentCreatesOnePerson(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openLinked(t, s)
		var wg sync.WaitGroup
		goldens := make([]string, 32)
		errs := make([]error, 32)
		for i := range goldens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, _ := fhir.ParseResource([]byte(patient(fmt.Sprintf("http://system%d.example/fhir", i), "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344")), "")
				out, err := k.svc.Create(context.Background(), "Patient", res, "")
				errs[i] = err
				if err == nil {
					goldens[i] = out.Golden
				}
			}()
		}
		wg.Wait()
		for i, g := range goldens {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if g != goldens[0] {
				t.Fatalf("creates ended in several Persons: %v", goldens)
			}
		}
		if got := personLinks(k.read(t, goldens[0])); len(got) != 32 {
			t.Fatalf("Person links %d records, want 32", len(got))
		}
	})
}

func TestLocationsLinkage(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openLinked(t, s)
		loc := func(src, id, name, status string) string {
			return fmt.Sprintf(`{"resourceType":"Location","meta":{"source":"%s/Location/%s"},"status":%q,"name":%q,
				"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}],
				"address":{"line":["1 Hospital Drive"],"city":"Springfield","postalCode":"62704"},
				"telecom":[{"system":"phone","value":"555-100-2000"}]}`, src, id, status, name)
		}
		a := k.create(t, loc("http://ehr.example/fhir", "1", "Springfield General Hospital", "active"))
		if a.Golden != "" {
			t.Fatalf("a lone Location has golden %q; a Linkage needs two items", a.Golden)
		}
		b := k.create(t, loc("http://lab.example/fhir", "4", "Springfield General Hosp.", "active"))
		if !strings.HasPrefix(b.Golden, "Linkage/") {
			t.Fatalf("second Location golden %q, want a Linkage", b.Golden)
		}
		items := k.read(t, b.Golden)["item"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["type"] != "source" || items[1].(map[string]any)["type"] != "alternate" {
			t.Fatalf("Linkage items %v", items)
		}
	})
}

func TestSourceReferencesResolve(t *testing.T) {
	k := openLinked(t, sqltest.Open(t, sqltest.DSN(t, "sqlite")))
	pr := k.create(t, `{"resourceType":"Practitioner","meta":{"source":"http://ehr.example/fhir/Practitioner/77"},"name":[{"family":"Okafor","given":["Chidi"]}]}`)
	p := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344",
		`"generalPractitioner":[{"reference":"Practitioner/77"}]`))
	got := k.read(t, "Patient/"+p.Resource.ID)["generalPractitioner"].([]any)[0].(map[string]any)["reference"]
	if got != "Practitioner/"+pr.Resource.ID {
		t.Fatalf("generalPractitioner %v, want Practitioner/%s", got, pr.Resource.ID)
	}
}

func TestReviewQueueStaysClean(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		k := openLinked(t, s)
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		c := k.create(t, `{"resourceType":"Patient","meta":{"source":"http://gp.example/fhir/Patient/7"},
			"name":[{"family":"Wisniewska","given":["Zofia"]}]}`)
		// Re-saving a asks the same question from the other side: not queued twice.
		res := k.read(t, "Patient/"+a.Resource.ID)
		if _, err := k.svc.Update(ctx, "Patient", a.Resource.ID, res, 0); err != nil {
			t.Fatal(err)
		}
		if review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}}); len(review) != 1 {
			t.Fatalf("review items %d, want 1: %+v", len(review), review)
		}
		// Confirming the match empties c's own Person: nothing may still
		// point at it from the queue.
		if _, err := k.l.SetLink(ctx, a.Golden, "Patient/"+c.Resource.ID, registry.MatchResultMatch, true); err != nil {
			t.Fatal(err)
		}
		g, err := registry.ParseRef(c.Golden)
		if err != nil {
			t.Fatal(err)
		}
		if left := k.links(t, registry.LinkFilter{GoldenType: g.Type, GoldenID: g.ID}); len(left) != 0 {
			t.Fatalf("links to the retired Person remain: %+v", left)
		}
		if review := k.links(t, registry.LinkFilter{MatchResult: []string{registry.MatchResultPossible}}); len(review) != 0 {
			t.Fatalf("review items after the decision: %+v", review)
		}
	})
}

func TestStewardLinksTwoLocations(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "steward-ann", Kind: "user"})
		k := openLinked(t, s)
		a := k.create(t, `{"resourceType":"Location","meta":{"source":"http://ehr.example/fhir/Location/1"},"name":"Springfield General Hospital"}`)
		b := k.create(t, `{"resourceType":"Location","meta":{"source":"http://lab.example/fhir/Location/2"},"name":"Springfield General"}`)
		if a.Golden != "" || b.Golden != "" {
			t.Skip("the model linked these Locations by itself")
		}
		link, err := k.l.SetLink(ctx, "Location/"+a.Resource.ID, "Location/"+b.Resource.ID, registry.MatchResultMatch, false)
		if err != nil {
			t.Fatal(err)
		}
		if link.GoldenType != registry.TypeLinkage {
			t.Fatalf("linking two Locations gave golden %s", link.Golden())
		}
		if items := k.read(t, link.Golden())["item"].([]any); len(items) != 2 {
			t.Fatalf("Linkage items %v", items)
		}
	})
}

// TestUndoRebuildsGoldenFromLinks checks that undoing a decision puts its
// links back and rebuilds its golden records from the links as they are
// now: a Person the undone decision created stays while another record
// still links to it, and goes once nothing does.
func TestUndoRebuildsGoldenFromLinks(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "steward-ann", Kind: "user"})
		k := openLinked(t, s)
		firstOp := func(id string) int64 {
			t.Helper()
			hist, err := k.s.LinkHistory(context.Background(), nil, []string{id})
			if err != nil || len(hist) == 0 {
				t.Fatalf("link history of %s: %v, %v", id, hist, err)
			}
			return hist[0].OpID
		}
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		c := k.create(t, patient("http://lab.example/fhir", "L9", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		if c.Golden != a.Golden {
			t.Fatalf("the same person from two sources: %s and %s", a.Golden, c.Golden)
		}
		// Undo the decision that created the Person with a: c, linked by
		// a later decision, keeps it.
		undo, err := k.l.Undo(ctx, firstOp(a.Resource.ID))
		if err != nil {
			t.Fatal(err)
		}
		p := k.read(t, a.Golden)
		if got := personLinks(p); p["active"] != true || len(got) != 1 || got[0] != "Patient/"+c.Resource.ID {
			t.Fatalf("after the undo the Person is active %v with links %v, want c's alone", p["active"], got)
		}
		if got := k.links(t, registry.LinkFilter{SourceType: registry.TypePatient, SourceID: a.Resource.ID}); len(got) != 0 {
			t.Fatalf("a's links after the undo: %+v", got)
		}
		// Undoing the undo links a again.
		if _, err := k.l.Undo(ctx, undo.ID); err != nil {
			t.Fatal(err)
		}
		if got := personLinks(k.read(t, a.Golden)); len(got) != 2 {
			t.Fatalf("after the undo of the undo the Person links %v", got)
		}
		// A Person of one record goes with the undo of its creation.
		d := k.create(t, patient("http://ehr.example/fhir", "2", "Marek", "Kowalczyk", "1958-11-23", "555-909-1212"))
		if _, err := k.l.Undo(ctx, firstOp(d.Resource.ID)); err != nil {
			t.Fatal(err)
		}
		gt, gid, _ := strings.Cut(d.Golden, "/")
		if _, err := k.svc.Read(context.Background(), gt, gid); registry.ErrorCode(err) != registry.EGone {
			t.Fatalf("the Person the undone decision created: %v, want it deleted", err)
		}
	})
}

// TestResolvedReferencesAreMatchFeatures checks that a record whose
// references the resolve step rewrote is stored with the features of the
// rewritten record: a Location's parent is a feature, and its keys and
// features were computed from the references as sent, before the write's
// transaction (the stored parent was the source's local id while the
// link step scored the registry's).
func TestResolvedReferencesAreMatchFeatures(t *testing.T) {
	k := openLinked(t, sqltest.Open(t, sqltest.DSN(t, "sqlite")))
	h := k.create(t, `{"resourceType":"Location","meta":{"source":"http://ehr.example/fhir/Location/H1"},"name":"Springfield General Hospital"}`)
	d := k.create(t, `{"resourceType":"Location","meta":{"source":"http://ehr.example/fhir/Location/D1"},"name":"Springfield General Radiology","partOf":{"reference":"Location/H1"}}`)
	page, err := k.s.StoredRecords(context.Background(), registry.TypeLocation, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page {
		if r.Resource.ID != d.Resource.ID {
			continue
		}
		rec, err := matching.DecodeRecord(r.Record)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rec.Values("partOf"), []string{"Location/" + h.Resource.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("stored parent feature %v, want %v (the reference as resolved)", got, want)
		}
		return
	}
	t.Fatal("the department's stored record was not found")
}
