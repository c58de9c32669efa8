package linkage

import (
	"context"
	"net/url"
	"slices"
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
