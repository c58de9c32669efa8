package registry

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/go-cmp/cmp"

	"idem/registry/fhir"
)

var auditTime = time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)

// TestAuditEventValidFHIR checks every kind of event against Google's strict
// R4 parser, an implementation independent of ours, and our own validator.
func TestAuditEventValidFHIR(t *testing.T) {
	strict, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	ann := Actor{Name: "ann", Kind: "user"}
	ehr := Actor{Name: "ehr-main", Kind: "client", System: "urn:oid:1.2.3"}
	tests := []struct {
		name string
		rec  AuditRecord
	}{
		{"create", AuditRecord{Action: "C", Subtype: "create", Agent: ehr, Entities: []string{"Patient/1/_history/1"}}},
		{"update", AuditRecord{Action: "U", Subtype: "update", Agent: ann, Entities: []string{"Practitioner/2/_history/3"}}},
		{"delete", AuditRecord{Action: "D", Subtype: "delete", Agent: Actor{Name: "lab", Kind: "client"}, Entities: []string{"Location/3/_history/2"}}},
		{"read", AuditRecord{Action: "R", Subtype: "read", Agent: ann, Entities: []string{"Person/4"}}},
		{"link", AuditRecord{Action: "E", Subtype: "link", Entities: []string{"Person/4", "Patient/1"},
			Detail: map[string]string{"decision": "7", "score": "0.98"}}},
		{"merge", AuditRecord{Action: "E", Subtype: "merge", Agent: ann, Entities: []string{"Person/4", "Person/5"},
			Detail: map[string]string{"decision": "8", "reason": "steward: merge Person/5 into Person/4"}}},
		{"undo", AuditRecord{Action: "E", Subtype: "undo", Agent: ann, Detail: map[string]string{"undoes": "8"}}},
		{"operation", AuditRecord{Action: "E", Subtype: "$mdm-update-link", Agent: ann, Entities: []string{"Person/4", "Patient/1"}}},
		{"login", AuditRecord{Action: "E", Subtype: "login", Agent: ann}},
		{"failed login", AuditRecord{Action: "E", Subtype: "login", Outcome: AuditMinorFailure, OutcomeDesc: "wrong password", Agent: ann}},
		{"logout", AuditRecord{Action: "E", Subtype: "logout", Agent: ann}},
		{"denied", AuditRecord{Action: "C", Subtype: "denied", Outcome: AuditMinorFailure, Agent: ehr,
			OutcomeDesc: "client lab-east may not assign identifiers in domain urn:oid:1.2.3 (owned by ehr-main)",
			Detail:      map[string]string{"rule": "p, source, Patient, urn:oid:1.2.3, create", "interaction": "create"}}},
		{"serious failure", AuditRecord{Action: "U", Subtype: "update", Outcome: AuditSeriousFailure, Source: "https://idem.example/fhir"}},
		{"bare", AuditRecord{}},
	}
	// The checks are void unless both validators reject a broken event.
	for _, breakIt := range []func(map[string]any){
		func(ev map[string]any) { ev["outcome"] = "5" },
		func(ev map[string]any) { delete(ev["agent"].([]any)[0].(map[string]any), "requestor") },
		func(ev map[string]any) { delete(ev, "source") },
	} {
		ev := AuditEvent(AuditRecord{Recorded: auditTime})
		breakIt(ev)
		body := fhir.MarshalResource(ev)
		if _, err := strict.UnmarshalR4(body); err == nil {
			t.Errorf("Google's parser accepted %s", body)
		}
		if _, err := fhir.ParseResource(body, TypeAuditEvent); err == nil {
			t.Errorf("ParseResource accepted %s", body)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.Recorded = auditTime
			body := fhir.MarshalResource(AuditEvent(tt.rec))
			if _, err := strict.UnmarshalR4(body); err != nil {
				t.Errorf("not valid for Google's FHIR parser: %v\n%s", err, body)
			}
			if _, err := fhir.ParseResource(body, TypeAuditEvent); err != nil {
				t.Errorf("ParseResource: %v\n%s", ErrorIssues(err), body)
			}
		})
	}
}

func TestAuditEventDenied(t *testing.T) {
	got := AuditEvent(AuditRecord{Action: "C", Subtype: "denied", Outcome: AuditMinorFailure, OutcomeDesc: "no",
		Agent:    Actor{Name: "lab-east", Kind: "client", System: "https://lab.example"},
		Entities: []string{"Patient/1"}, Recorded: auditTime, Source: "https://idem.example/fhir",
		Detail: map[string]string{"rule": "r1", "empty": ""}})
	want := mustDecodeStd(t, `{"resourceType":"AuditEvent",
		"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},
		"subtype":[{"system":"https://idem.dev/fhir/CodeSystem/audit-subtype","code":"denied"}],
		"action":"C","recorded":"2026-03-04T05:06:07.89Z","outcome":"4","outcomeDesc":"no",
		"agent":[{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153","display":"Source Role ID"}]},
			"who":{"identifier":{"system":"https://lab.example","value":"lab-east"},"display":"lab-east"},"name":"lab-east","requestor":true}],
		"source":{"site":"https://idem.example/fhir","observer":{"display":"idem https://idem.example/fhir"},
			"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},
		"entity":[
			{"what":{"reference":"Patient/1"},
			 "type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},
			 "role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}},
			{"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"4","display":"Other"},
			 "description":"event details","detail":[{"type":"rule","valueString":"r1"}]}]}`)
	if diff := cmp.Diff(want, mustDecodeStd(t, string(fhir.MarshalResource(got)))); diff != "" {
		t.Errorf("AuditEvent (-want +got):\n%s", diff)
	}
}

func TestAuditEventCodings(t *testing.T) {
	tests := []struct {
		subtype, typ string
		subtypes     []string
	}{
		{"create", SystemAuditEventType + "|rest", []string{SystemRestful + "|create"}},
		{"$mdm-merge-golden-resources", SystemAuditEventType + "|rest",
			[]string{SystemRestful + "|operation", SystemAuditSubtype + "|$mdm-merge-golden-resources"}},
		{"login", SystemDICOM + "|110114", []string{SystemDICOM + "|110122", SystemAuditSubtype + "|login"}},
		{"merge", SystemDICOM + "|110110", []string{SystemAuditSubtype + "|merge"}},
		{"not-duplicate", SystemDICOM + "|110110", []string{SystemAuditSubtype + "|not-duplicate"}},
	}
	for _, tt := range tests {
		typ, subs := auditCodings(tt.subtype)
		var got []string
		for _, s := range subs {
			c := s.(map[string]any)
			got = append(got, c["system"].(string)+"|"+c["code"].(string))
		}
		if g := typ["system"].(string) + "|" + typ["code"].(string); g != tt.typ || !slices.Equal(got, tt.subtypes) {
			t.Errorf("%s: type %s subtypes %v, want %s %v", tt.subtype, g, got, tt.typ, tt.subtypes)
		}
	}
}

func TestExtractAuditEvent(t *testing.T) {
	ev := AuditEvent(AuditRecord{Action: "U", Subtype: "update", Agent: Actor{Name: "Ann", Kind: "user"},
		Entities: []string{"Patient/1/_history/2", "Person/9"}, Recorded: auditTime})
	ix := Extract(TypeAuditEvent, mustDecodeStd(t, string(fhir.MarshalResource(ev))))
	c := func(local int16) int16 { return Code(TypeAuditEvent, local) }
	lo, hi, _ := fhir.DateRange("2026-03-04T05:06:07.89Z")
	want := &Index{
		Strings: []StringKey{{Param: c(codeAuditName), Norm: "ann", Exact: "Ann"}},
		Tokens: []TokenKey{
			{Param: c(codeAuditType), System: SystemAuditEventType, Code: "rest"},
			{Param: c(codeAuditSubtype), System: SystemRestful, Code: "update"},
			{Param: c(codeAuditAction), System: systemAuditAction, Code: "U"},
			{Param: c(codeAuditOutcome), System: systemAuditOutcome, Code: "0"},
			{Param: c(codeAuditAgent), System: SystemUsers, Code: "Ann"},
		},
		Dates: []DateKey{{Param: c(codeAuditDate), Lo: lo, Hi: hi}},
		Refs:  []RefKey{{Param: c(codeAuditEntity), Target: "Patient/1"}, {Param: c(codeAuditEntity), Target: "Person/9"}},
	}
	if diff := cmp.Diff(want, ix); diff != "" {
		t.Errorf("Extract (-want +got):\n%s", diff)
	}
}

func TestAuditEventQuery(t *testing.T) {
	for _, q := range []string{
		"entity=Patient/123", "patient=123", "agent=https://idem.dev/fhir/users|ann", "agent-name=ann",
		"date=ge2026-01-01", "outcome=4", "type=rest", "subtype=create", "action=C", "_lastUpdated=gt2026",
	} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseQuery(TypeAuditEvent, v, true); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	if _, err := ParseQuery(TypeAuditEvent, url.Values{"patient": {"Person/1"}}, true); err == nil {
		t.Error("patient=Person/1 accepted")
	}
}
