package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/fhir"
)

// auditService gives svc an Auditor as its audit step, and no other.
func auditService(svc *registry.Service) *registry.Auditor {
	if svc.Writer == nil {
		svc.Writer = &registry.Writer{}
	}
	a := registry.NewAuditor(svc.Store, svc.Writer, "https://idem.test/fhir")
	svc.Audit = a
	return a
}

// auditEvents returns the AuditEvents a search finds.
func auditEvents(t *testing.T, svc *registry.Service, query string) []map[string]any {
	t.Helper()
	res := search(t, svc, registry.TypeAuditEvent, query+"&_count=100")
	out := make([]map[string]any, len(res.Matches))
	for i, r := range res.Matches {
		m, err := fhir.ParseResource(r.Body, registry.TypeAuditEvent)
		if err != nil {
			t.Fatalf("stored AuditEvent %s: %v\n%s", r.ID, err, r.Body)
		}
		out[i] = m
	}
	return out
}

func subtypeOf(ev map[string]any) string {
	return ev["subtype"].([]any)[0].(map[string]any)["code"].(string)
}

func TestAuditorWrites(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		auditService(svc)
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "ann", Kind: "user"})
		m := mustDecode(t, patientJSON("Smith", "Ann", "1980-01-02", "a1"))
		out, err := svc.Create(ctx, registry.TypePatient, m, "")
		if err != nil {
			t.Fatal(err)
		}
		id := out.Resource.ID
		evs := auditEvents(t, svc, "entity=Patient/"+id)
		if len(evs) != 1 || subtypeOf(evs[0]) != "create" || evs[0]["action"] != "C" {
			t.Fatalf("events of the create: %v", evs)
		}
		// The AuditEvent's own put wrote no event about itself.
		if all := auditEvents(t, svc, ""); len(all) != 1 {
			t.Fatalf("%d AuditEvents after one create, want 1", len(all))
		}
		for _, q := range []string{"agent=https://idem.dev/fhir/users|ann", "agent-name=ann", "date=ge2026-01-01",
			"outcome=0", "type=rest", "subtype=http://hl7.org/fhir/restful-interaction|create", "action=C", "patient=" + id} {
			if got := auditEvents(t, svc, q); len(got) != 1 {
				t.Errorf("%s: %d events, want 1", q, len(got))
			}
		}
		for _, q := range []string{"agent=https://idem.dev/fhir/users|bob", "date=lt2026-01-01", "outcome=4", "subtype=delete"} {
			if got := auditEvents(t, svc, q); len(got) != 0 {
				t.Errorf("%s: %d events, want 0", q, len(got))
			}
		}

		m["id"] = id
		if _, err := svc.Update(ctx, registry.TypePatient, id, m, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Delete(ctx, registry.TypePatient, id); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range auditEvents(t, svc, "entity=Patient/"+id+"&_sort=_lastUpdated") {
			got = append(got, subtypeOf(ev))
		}
		if want := "create update delete"; strings.Join(got, " ") != want {
			t.Errorf("subtypes %q, want %q", strings.Join(got, " "), want)
		}
	})
}

func TestAuditorRollback(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		auditService(svc)
		ctx := context.Background()
		boom := errors.New("boom")
		err := svc.Store.Write(ctx, func(tx registry.Tx) error {
			m := mustDecode(t, patientJSON("Smith", "Ann", "1980-01-02", "a1"))
			if _, err := svc.CreateTx(ctx, tx, registry.TypePatient, "rolled-back", m, ""); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want %v", err, boom)
		}
		if evs := auditEvents(t, svc, "entity=Patient/rolled-back"); len(evs) != 0 {
			t.Errorf("a rolled-back write left %d AuditEvents", len(evs))
		}
		if evs := auditEvents(t, svc, ""); len(evs) != 0 {
			t.Errorf("a rolled-back write left %d AuditEvents", len(evs))
		}
	})
}

func TestAuditorRecordDenial(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		a := auditService(svc)
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "lab-east", Kind: "client", System: "https://lab.example"})
		_, err := a.Record(ctx, registry.AuditRecord{Action: "C", Subtype: "denied", Outcome: registry.AuditMinorFailure,
			OutcomeDesc: "client lab-east may not create Patient", Detail: map[string]string{"rule": "default"}})
		if err != nil {
			t.Fatal(err)
		}
		evs := auditEvents(t, svc, "outcome=4&agent=https://lab.example|lab-east&subtype=denied")
		if len(evs) != 1 || evs[0]["outcomeDesc"] != "client lab-east may not create Patient" {
			t.Fatalf("denials: %v", evs)
		}
		if all := auditEvents(t, svc, ""); len(all) != 1 {
			t.Errorf("%d AuditEvents after one denial, want 1", len(all))
		}
	})
}
