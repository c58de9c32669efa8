package registry

import (
	"context"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"time"
)

// Code systems of the codings idem puts on AuditEvents.
const (
	SystemAuditEventType = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	SystemDICOM          = "http://dicom.nema.org/resources/ontology/DCM"
	SystemRestful        = "http://hl7.org/fhir/restful-interaction"
	// SystemAuditSubtype holds idem's own event subtypes: linking decisions
	// (link, merge, undo, ...), operations ($mdm-update-link), login, denied.
	SystemAuditSubtype = "https://idem.dev/fhir/CodeSystem/audit-subtype"
	// SystemUsers is the identifier system of stewards (and of idem itself)
	// in AuditEvent.agent.who; a client is named in its own system URI.
	SystemUsers = "https://idem.dev/fhir/users"
	// SystemClients names a client that has no system URI.
	SystemClients = "https://idem.dev/fhir/clients"

	systemEntityType    = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole    = "http://terminology.hl7.org/CodeSystem/object-role"
	systemParticipation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemSourceType    = "http://terminology.hl7.org/CodeSystem/security-source-type"
)

// AuditEvent outcomes (AuditEvent.outcome).
const (
	AuditSuccess        = "0"
	AuditMinorFailure   = "4" // a denial
	AuditSeriousFailure = "8"
)

// AuditRecord is what an AuditEvent says: who did what to which records,
// when, and with what outcome.
type AuditRecord struct {
	Action      string // C R U D E
	Subtype     string // a FHIR restful interaction ("create"), a "$operation", or link, merge, undo, login, denied, ...
	Outcome     string // AuditSuccess, AuditMinorFailure, AuditSeriousFailure; "" is success
	OutcomeDesc string
	Agent       Actor
	Entities    []string // "Patient/123", "Person/9/_history/2"
	Recorded    time.Time
	Source      string            // the idem instance (its base URL)
	Detail      map[string]string // rule, reason, decision id, score, ...
	// Query, when set, is the query of a search or operation ("Patient?family=x"):
	// BALP's query entity (role 24 Query), base64 in entity.query.
	Query string
	// Decision, when set, is the kind of a linking decision the event also
	// records (a write and the decision it made are one event): an idem
	// subtype after the REST one.
	Decision string
	// Items are records of the event each with details of its own: the
	// writes of a batch, each with the linking decision it made. They are
	// listed after Entities; their kinds of decision become subtypes.
	Items []AuditItem
}

// AuditItem is one record of an event that lists several, with what
// happened to it: Detail (decision, reason) on its entity, and the other
// records its decision touched (its golden records) as entities of their
// own, each listed once per event.
type AuditItem struct {
	Ref     string // "Patient/123/_history/2"
	Kind    string // the kind of linking decision, "" for none
	Detail  map[string]string
	Touched []string // "Person/9"
}

// restfulInteractions are the codes of http://hl7.org/fhir/restful-interaction.
var restfulInteractions = []string{"read", "vread", "update", "patch", "delete", "history",
	"history-instance", "history-type", "history-system", "create", "search", "search-type",
	"search-system", "search-compartment", "capabilities", "transaction", "batch", "operation"}

// AuditEvent returns the FHIR R4 AuditEvent of e, shaped after IHE BALP:
// REST interactions are type "rest" with the restful-interaction subtype,
// logins DICOM User Authentication, linking decisions DICOM Patient Record
// with idem's subtype. It carries references and e.Detail only, never a
// copy of a record.
func AuditEvent(e AuditRecord) map[string]any {
	typ, subtypes := auditCodings(e.Subtype)
	kinds := []string{}
	if e.Decision != "" {
		kinds = append(kinds, e.Decision)
	}
	for _, it := range e.Items {
		if it.Kind != "" && !slices.Contains(kinds, it.Kind) {
			kinds = append(kinds, it.Kind)
		}
	}
	for _, k := range kinds {
		subtypes = append(subtypes, coding(SystemAuditSubtype, k, ""))
	}
	outcome := e.Outcome
	if outcome == "" {
		outcome = AuditSuccess
	}
	ev := map[string]any{
		"resourceType": TypeAuditEvent,
		"type":         typ,
		"recorded":     FormatInstant(e.Recorded),
		"outcome":      outcome,
		"agent":        []any{auditAgent(e.Agent, e.Action)},
		"source":       auditSource(e.Source),
	}
	if len(subtypes) > 0 {
		ev["subtype"] = subtypes
	}
	if e.Action != "" {
		ev["action"] = e.Action
	}
	if e.OutcomeDesc != "" {
		ev["outcomeDesc"] = e.OutcomeDesc
	}
	entities := auditEntities(e.Entities, e.Items, e.Detail)
	if e.Query != "" {
		entities = append([]any{queryEntity(e.Query)}, entities...)
	}
	if len(entities) > 0 {
		ev["entity"] = entities
	}
	return ev
}

// auditCodings returns the type and subtypes of an event of subtype sub.
func auditCodings(sub string) (typ map[string]any, subtypes []any) {
	rest := coding(SystemAuditEventType, "rest", "Restful Operation")
	own := coding(SystemAuditSubtype, sub, "")
	switch {
	case sub == "":
		return rest, nil
	case slices.Contains(restfulInteractions, sub):
		return rest, []any{coding(SystemRestful, sub, "")}
	case strings.HasPrefix(sub, "$"):
		return rest, []any{coding(SystemRestful, "operation", ""), own}
	case sub == "denied":
		return rest, []any{own}
	case sub == "login":
		return coding(SystemDICOM, "110114", "User Authentication"), []any{coding(SystemDICOM, "110122", "Login"), own}
	case sub == "logout":
		return coding(SystemDICOM, "110114", "User Authentication"), []any{coding(SystemDICOM, "110123", "Logout"), own}
	}
	return coding(SystemDICOM, "110110", "Patient Record"), []any{own}
}

// auditAgent describes who acted, as the requestor. Agents are not
// resources here, so who is an identifier: the client's system URI (or
// SystemClients) for a client, SystemUsers for a steward or idem itself.
func auditAgent(a Actor, action string) map[string]any {
	if a.Name == "" {
		a = Actor{Name: "system", Kind: "system"}
	}
	system := SystemUsers
	if a.Kind == "client" {
		system = a.System
		if system == "" {
			system = SystemClients
		}
	}
	return map[string]any{
		"type":      map[string]any{"coding": []any{agentType(a.Kind, action)}},
		"who":       map[string]any{"identifier": map[string]any{"system": system, "value": a.Name}, "display": a.Name},
		"name":      a.Name,
		"requestor": true,
	}
}

// agentType codes an agent's part as BALP does: a client system is the
// DICOM Source Role ID, a user the author of a change (the recipient of a
// read), idem itself the application.
func agentType(kind, action string) map[string]any {
	switch {
	case kind == "client":
		return coding(SystemDICOM, "110153", "Source Role ID")
	case kind == "system":
		return coding(SystemDICOM, "110150", "Application")
	case action == "R":
		return coding(systemParticipation, "IRCP", "information recipient")
	}
	return coding(systemParticipation, "AUT", "author")
}

// auditSource names the idem instance that observed the event.
func auditSource(source string) map[string]any {
	display := "idem"
	if source != "" {
		display += " " + source
	}
	s := map[string]any{
		"observer": map[string]any{"display": display},
		"type":     []any{coding(systemSourceType, "4", "Application Server")},
	}
	if source != "" {
		s["site"] = source
	}
	return s
}

// auditEntities lists the records of the event, then its items with their
// details and the records they touched (each record once), then one entity
// holding the event's details (sorted by name), when there are any.
func auditEntities(refs []string, items []AuditItem, detail map[string]string) []any {
	var out []any
	listed := map[string]bool{}
	for _, ref := range refs {
		if ref != "" {
			listed[ref] = true
			out = append(out, auditEntity(ref))
		}
	}
	for _, it := range items {
		ent := auditEntity(it.Ref)
		if d := auditDetails(it.Detail); len(d) > 0 {
			ent["detail"] = d
		}
		listed[it.Ref] = true
		out = append(out, ent)
		for _, ref := range it.Touched {
			if ref != "" && !listed[ref] {
				listed[ref] = true
				out = append(out, auditEntity(ref))
			}
		}
	}
	if details := auditDetails(detail); len(details) > 0 {
		out = append(out, map[string]any{
			"type":        coding(systemEntityType, "4", "Other"),
			"description": "event details",
			"detail":      details,
		})
	}
	return out
}

// auditEntity is the entity of a record: a Patient in the role of patient,
// anything else a domain resource.
func auditEntity(ref string) map[string]any {
	typ, role := coding(systemEntityType, "2", "System Object"), coding(systemObjectRole, "4", "Domain Resource")
	if strings.HasPrefix(ref, TypePatient+"/") {
		typ, role = coding(systemEntityType, "1", "Person"), coding(systemObjectRole, "1", "Patient")
	}
	return map[string]any{"what": map[string]any{"reference": ref}, "type": typ, "role": role}
}

// auditDetails renders details as entity.detail, sorted by name.
func auditDetails(detail map[string]string) []any {
	var out []any
	for _, k := range slices.Sorted(maps.Keys(detail)) {
		if k != "" && detail[k] != "" {
			out = append(out, map[string]any{"type": k, "valueString": detail[k]})
		}
	}
	return out
}

// queryEntity is BALP's query entity: the query as asked, base64 in query.
func queryEntity(q string) map[string]any {
	return map[string]any{
		"type":        coding(systemEntityType, "2", "System Object"),
		"role":        coding(systemObjectRole, "24", "Query"),
		"description": q,
		"query":       base64.StdEncoding.EncodeToString([]byte(q)),
	}
}

// coding returns a Coding; display is left out when "".
func coding(system, code, display string) map[string]any {
	c := map[string]any{"system": system, "code": code}
	if display != "" {
		c["display"] = display
	}
	return c
}

// Auditor is the pipeline's audit step (AuditTrail): an AuditEvent for
// every write, in the transaction of the write, so a rolled-back write
// leaves no event. It also records events that are not writes (logins,
// denials). AuditEvents are written through the system path, never
// audited themselves.
type Auditor struct {
	store  Store
	w      *Writer
	source string
}

var _ AuditTrail = (*Auditor)(nil)

// NewAuditor returns an Auditor writing to store with w; source names the
// idem instance (its base URL) in every event.
func NewAuditor(store Store, w *Writer, source string) *Auditor {
	return &Auditor{store: store, w: w, source: source}
}

// AuditWrite writes the AuditEvent of the version just stored.
func (a *Auditor) AuditWrite(ctx context.Context, tx Tx, w *Write, out *Outcome) error {
	action, sub, it := auditItem(out)
	rec := AuditRecord{Action: action, Subtype: sub, Entities: append([]string{it.Ref}, it.Touched...),
		Recorded: out.Resource.LastUpdated, Decision: it.Kind, Detail: it.Detail}
	_, err := a.RecordTx(ctx, tx, rec)
	return err
}

// Record writes the AuditEvent of e in a transaction of its own: for
// events that are not writes, such as logins and denials. The agent
// defaults to ActorFrom(ctx), Recorded to now, Source to the Auditor's.
func (a *Auditor) Record(ctx context.Context, e AuditRecord) (*Outcome, error) {
	var out *Outcome
	err := a.store.Write(ctx, func(tx Tx) (err error) {
		out, err = a.RecordTx(ctx, tx, e)
		return err
	})
	return out, err
}

// RecordTx is Record inside an open transaction.
func (a *Auditor) RecordTx(ctx context.Context, tx Tx, e AuditRecord) (*Outcome, error) {
	if e.Agent.Name == "" {
		e.Agent = ActorFrom(ctx)
	}
	if e.Recorded.IsZero() {
		e.Recorded = a.w.Time()
	}
	if e.Source == "" {
		e.Source = a.source
	}
	return a.w.Create(ctx, tx, TypeAuditEvent, a.w.NewResourceID(), AuditEvent(e))
}
