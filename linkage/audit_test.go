package linkage

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// auditEvents returns the AuditEvents a search finds.
func (k *linked) auditEvents(t *testing.T, query string) []map[string]any {
	t.Helper()
	v, _ := url.ParseQuery(query)
	_, res, err := k.svc.Search(context.Background(), registry.TypeAuditEvent, v, true)
	if err != nil {
		t.Fatalf("search AuditEvent?%s: %v", query, err)
	}
	var out []map[string]any
	for _, r := range res.Matches {
		m, err := fhir.ParseResource(r.Body, registry.TypeAuditEvent)
		if err != nil {
			t.Fatalf("stored AuditEvent %s: %v\n%s", r.ID, err, r.Body)
		}
		out = append(out, m)
	}
	return out
}

// entityRefs returns the references of an AuditEvent's entities and its details.
func entityRefs(ev map[string]any) (refs []string, detail map[string]string) {
	detail = map[string]string{}
	for _, e := range ev["entity"].([]any) {
		e := e.(map[string]any)
		if what, ok := e["what"].(map[string]any); ok {
			refs = append(refs, what["reference"].(string))
		}
		for _, d := range registry.AsList(e["detail"]) {
			d := d.(map[string]any)
			detail[d["type"].(string)] = d["valueString"].(string)
		}
	}
	return refs, detail
}

func TestDecisionsAudited(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openLinked(t, s)
		k.svc.Audit = registry.NewAuditor(s, k.svc.Writer, "")
		a := k.create(t, patient("http://ehr.example/fhir", "1", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		c := k.create(t, patient("http://ehr.example/fhir", "2", "Marek", "Kowalczyk", "1958-11-23", "555-909-1212"))
		pa := "Patient/" + a.Resource.ID

		links := k.auditEvents(t, "subtype=link&entity="+pa)
		if len(links) != 1 {
			t.Fatalf("%d link events of %s, want 1", len(links), pa)
		}
		refs, detail := entityRefs(links[0])
		if !slices.Contains(refs, pa+"/_history/1") || !slices.Contains(refs, a.Golden) || detail["decision"] == "" {
			t.Errorf("link event entities %v, details %v", refs, detail)
		}
		// One event: the Patient's create, which also records the link
		// decision it made (subtypes create and link). The Person is idem's
		// own record, written through the system path: the decision that
		// made it is its event, not a REST create of its own.
		if evs := k.auditEvents(t, "entity="+pa); len(evs) != 1 || subtypeCode(evs[0]) != "link" || evs[0]["action"] != "C" {
			t.Errorf("events of %s: %v, want one create that records its link decision", pa, evs)
		}
		if evs := k.auditEvents(t, "entity="+a.Golden); len(evs) != 1 || subtypeCode(evs[0]) != "link" {
			t.Errorf("events of %s: %v, want its link decision", a.Golden, evs)
		}

		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "steward-ann", Kind: "user"})
		if err := k.l.Merge(ctx, c.Golden, a.Golden); err != nil {
			t.Fatal(err)
		}
		merges := k.auditEvents(t, "subtype=merge&agent="+registry.SystemUsers+"|steward-ann")
		if len(merges) != 1 {
			t.Fatalf("%d merge events by steward-ann, want 1", len(merges))
		}
		refs, detail = entityRefs(merges[0])
		if !slices.Contains(refs, a.Golden) || !slices.Contains(refs, c.Golden) || detail["reason"] == "" {
			t.Errorf("merge event entities %v, details %v", refs, detail)
		}
	})
}

func subtypeCode(ev map[string]any) string {
	subs := registry.AsList(ev["subtype"])
	if len(subs) == 0 {
		return ""
	}
	return registry.AsString(registry.AsObject(subs[len(subs)-1])["code"])
}

// TestBatchDecisionsAudited checks the audit of a transaction Bundle: its
// writes are audited together, a hundred records at most per event, and
// each record's entity carries the decision its own link step made, with
// the golden records that decision touched as entities of the event.
func TestBatchDecisionsAudited(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openLinked(t, s)
		k.svc.Audit = registry.NewAuditor(s, k.svc.Writer, "")
		// Two copies of one person (the second links to the first's
		// Person), then 148 people of their own: 150 creates.
		entries := []any{}
		add := func(js string) {
			res, err := fhir.ParseResource([]byte(js), "")
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, map[string]any{"resource": res, "request": map[string]any{"method": "POST", "url": "Patient"}})
		}
		add(patient("http://ehr.example/fhir", "a", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		add(patient("http://lab.example/fhir", "a", "Zofia", "Wisniewska", "1971-03-09", "555-201-3344"))
		for i := 0; i < 148; i++ {
			add(patient("http://ehr.example/fhir", fmt.Sprintf("p%d", i), fmt.Sprintf("Given%c%c", 'a'+i%26, 'a'+i/26),
				fmt.Sprintf("Family%c%c", 'a'+i/26, 'a'+i%26), fmt.Sprintf("19%02d-0%d-1%d", i%90+10, i%9+1, i%10), fmt.Sprintf("555-%03d-%04d", i, i*7)))
		}
		resp, err := k.svc.Bundle(context.Background(), map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}, registry.BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range resp["entry"].([]any) {
			loc := registry.AsString(registry.AsObject(registry.AsObject(e)["response"])["location"])
			ids = append(ids, strings.Join(strings.Split(loc, "/")[:2], "/"))
		}
		if len(ids) != 150 {
			t.Fatalf("%d entries answered, want 150", len(ids))
		}
		evs := k.auditEvents(t, "action=C&_count=100")
		if len(evs) != 2 {
			t.Fatalf("%d create events for a Bundle of 150 creates, want 2 (100 and 50 records)", len(evs))
		}
		decisions := map[string]bool{}
		for i, id := range ids {
			found := k.auditEvents(t, "entity="+id)
			if len(found) != 1 {
				t.Fatalf("%s: %d events, want 1", id, len(found))
			}
			item := auditItemOf(t, found[0], id+"/_history/1")
			if item["decision"] == "" || item["reason"] == "" {
				t.Fatalf("%s: entity details %v, want its decision and reason", id, item)
			}
			if decisions[item["decision"]] {
				t.Fatalf("%s: decision %s named by two records", id, item["decision"])
			}
			decisions[item["decision"]] = true
			golden := k.goldenOf(t, id)
			if refs, _ := entityRefs(found[0]); !slices.Contains(refs, golden) {
				t.Fatalf("%s: event entities %v lack its golden record %s", id, refs, golden)
			}
			if i == 1 && golden != k.goldenOf(t, ids[0]) {
				t.Fatalf("the two copies of one person have golden records %s and %s", golden, k.goldenOf(t, ids[0]))
			}
		}
		// The subtypes hold the REST interaction and every kind of decision.
		var subs []string
		for _, s := range registry.AsList(evs[0]["subtype"]) {
			subs = append(subs, registry.AsString(registry.AsObject(s)["code"]))
		}
		if !slices.Contains(subs, "create") || !slices.Contains(subs, "link") {
			t.Fatalf("subtypes %v, want create and link", subs)
		}
	})
}

// auditItemOf returns the details of the entity ref of ev.
func auditItemOf(t *testing.T, ev map[string]any, ref string) map[string]string {
	t.Helper()
	for _, e := range registry.AsList(ev["entity"]) {
		e := registry.AsObject(e)
		if registry.AsString(registry.AsObject(e["what"])["reference"]) != ref {
			continue
		}
		out := map[string]string{}
		for _, d := range registry.AsList(e["detail"]) {
			d := registry.AsObject(d)
			out[registry.AsString(d["type"])] = registry.AsString(d["valueString"])
		}
		return out
	}
	t.Fatalf("no entity %s in the event", ref)
	return nil
}

// goldenOf returns the golden record a source record is linked to.
func (k *linked) goldenOf(t *testing.T, source string) string {
	t.Helper()
	typ, id, _ := strings.Cut(source, "/")
	page, err := k.s.QueryLinks(context.Background(), registry.LinkFilter{SourceType: typ, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil || len(page.Links) == 0 {
		t.Fatalf("links of %s: %v", source, err)
	}
	return page.Links[0].Golden()
}

// TestRematchDecisionsAuditedTogether checks the audit of a re-match's
// apply: each record's decision is its own Op, and the decisions of one
// transaction are audited together, a hundred at most per event, each
// record an entity with its decision and reason, its golden record an
// entity of the same event.
func TestRematchDecisionsAuditedTogether(t *testing.T) {
	recs, _ := generatedPatients(t, 100, "")
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		k := openLinked(t, s)
		k.svc.Audit = registry.NewAuditor(s, k.svc.Writer, "")
		var ids []string
		unlinked := &registry.Service{Store: s, Writer: k.svc.Writer, Steps: registry.Steps{Link: k.l.Deferred()}}
		for _, r := range recs {
			out, err := unlinked.Create(ctx, registry.TypePatient, clone(r), "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, "Patient/"+out.Resource.ID)
		}
		r, err := k.l.PlanLinkUnlinked(ctx, registry.TypePatient, k.l.matcher.models.Current(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if r.Changed() <= maxAuditEntities || r.Changed() > applyChunk {
			t.Fatalf("%d records to link, want one transaction's worth and more than one event's", r.Changed())
		}
		if err := k.l.ApplyRematch(ctx, r, "test load"); err != nil {
			t.Fatal(err)
		}
		evs := k.auditEvents(t, "subtype=rematch&_count=100")
		if want := (r.Changed() + maxAuditEntities - 1) / maxAuditEntities; len(evs) != want {
			t.Fatalf("%d re-match events for %d decisions, want %d", len(evs), r.Changed(), want)
		}
		decisions := map[string]bool{}
		for _, id := range ids {
			found := k.auditEvents(t, "subtype=rematch&entity="+id)
			if len(found) != 1 {
				t.Fatalf("%s: %d re-match events, want 1", id, len(found))
			}
			item := auditItemOf(t, found[0], id)
			if item["decision"] == "" || item["reason"] != "test load" || decisions[item["decision"]] {
				t.Fatalf("%s: entity details %v, want a decision of its own and the reason", id, item)
			}
			decisions[item["decision"]] = true
			if refs, _ := entityRefs(found[0]); !slices.Contains(refs, k.goldenOf(t, id)) {
				t.Fatalf("%s: event entities %v lack its golden record", id, refs)
			}
		}
	})
}
