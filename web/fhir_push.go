package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Pushed data: FHIR messages (POST /fhir/$process-message, IHE PMIR
// ITI-93 among them) and documents (POST /fhir/Bundle/$extract). The
// writes inside go through the one write pipeline as the authenticated
// client, in one transaction (registry/push.go).

const (
	processMessageDefinition = "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"
	extractDefinition        = "https://idem.dev/fhir/OperationDefinition/Bundle-extract"
	pmirMessageDefinition    = "https://profiles.ihe.net/ITI/PMIR/MessageDefinition/IHE.PMIR.MessageDefinition"
)

// handleProcessMessage answers $process-message synchronously: 200 with
// a response message (response.code ok) when every write of the message
// was stored, else the error's status with a response message whose code
// is fatal-error (the content) or transient-error (try again), the
// OperationOutcome as its details, and nothing stored. A body that is no
// message at all is refused with a bare OperationOutcome.
func (s *Server) handleProcessMessage(c *fiber.Ctx) error {
	if c.Query("async") == "true" {
		return registry.Invalid(registry.EMethod, "not-supported", "async", "asynchronous messaging is not supported: send the message without async=true")
	}
	b, err := s.body(c, "Bundle")
	if err != nil {
		return err
	}
	msg, err := registry.ParseMessage(b)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	err = s.allowPush(ctx, "message", msg.Writes)
	if err == nil {
		err = s.registry.Push(ctx, msg.Writes)
	}
	reply := registry.MessageReply{Base: s.base(c), Software: "idem", Version: s.cfg.Version, Now: s.registry.Now(), NewID: s.registry.NewResourceID}
	status := registry.Status(err)
	s.pushed(c, "$process-message", msg.Writes, err, map[string]string{"message": msg.ID, "event": msg.Event, "response": registry.ResponseCode(err)}, true)
	return s.sendJSON(c, status, msg.Response(reply, err))
}

// handleExtract answers Bundle/$extract: the Patients, Practitioners and
// Locations of a document are written as the client's records, and the
// answer is a Parameters listing each entry's registry record and golden
// record (or why it was skipped).
func (s *Server) handleExtract(c *fiber.Ctx) error {
	b, err := s.body(c, "Bundle")
	if err != nil {
		return err
	}
	doc, err := registry.ParseDocument(b)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := s.allowPush(ctx, "extract", doc.Writes); err != nil {
		return err
	}
	err = s.registry.Push(ctx, doc.Writes)
	s.pushed(c, "$extract", doc.Writes, err, nil, false)
	if err != nil {
		return err // the error handler audits a refusal and logs an internal error
	}
	return s.sendJSON(c, fiber.StatusOK, doc.Answer())
}

// allowPush checks the parsed request: the operation (action) on every
// type it writes, and each DELETE; creates and updates are checked again,
// with their identifier domains and the stored record's owner, by the
// pipeline's authorize step.
func (s *Server) allowPush(ctx context.Context, action string, ws []*registry.PushWrite) error {
	p, ok := registry.ActorIn(ctx)
	if !ok || s.auth == nil {
		return nil
	}
	for _, w := range ws {
		if err := s.allow(ctx, p, action, w.Type, nil); err != nil {
			return err
		}
		if w.Method == "DELETE" {
			if err := s.allow(ctx, p, "delete", w.Type, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// pushed audits a message or document operation (the writes inside have
// their own AuditEvents): the records written, or the failure. answered:
// the handler answers the error itself, bypassing the error handler, so a
// refusal is audited as one here (auditDenial) and an internal error logged.
func (s *Server) pushed(c *fiber.Ctx, op string, ws []*registry.PushWrite, err error, detail map[string]string, answered bool) {
	status := registry.Status(err)
	switch {
	case !answered:
	case status == fiber.StatusForbidden:
		s.auditDenial(c, err)
	case status >= 500:
		s.log.Error("request failed", "id", RequestID(c), "method", c.Method(), "path", c.Path(), "err", err)
	}
	if s.cfg.Audit == nil {
		return
	}
	rec := registry.AuditRecord{Action: "E", Subtype: op, Detail: map[string]string{}}
	for k, v := range detail {
		rec.Detail[k] = v
	}
	if id := RequestID(c); id != "" {
		rec.Detail["request"] = id
	}
	if err != nil {
		rec.Outcome, rec.OutcomeDesc = registry.AuditMinorFailure, registry.ErrorMessage(err)
		if status >= 500 {
			rec.Outcome = registry.AuditSeriousFailure
		}
	} else {
		for _, w := range ws {
			if ref := w.Record(); ref != "" {
				rec.Entities = append(rec.Entities, ref)
			}
		}
	}
	if _, aerr := s.cfg.Audit.Record(c.UserContext(), rec); aerr != nil {
		s.log.Error("audit of "+op+" failed", "id", RequestID(c), "err", aerr)
	}
}

// pushCapabilities are the system-level operations and the messaging
// statement of the CapabilityStatement.
func pushCapabilities(base string) (ops []any, messaging []any) {
	ops = []any{
		map[string]any{"name": "process-message", "definition": processMessageDefinition},
		map[string]any{"name": "extract", "definition": extractDefinition,
			"documentation": "POST [base]/Bundle/$extract with a document Bundle: its Patients, Practitioners and Locations are matched and linked as the client's records; the answer is a Parameters with one entry per document entry (fullUrl, resourceType, role, outcome, record, golden, reason)"},
	}
	messaging = []any{map[string]any{
		"endpoint": []any{map[string]any{
			"protocol": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/message-transport", "code": "http"},
			"address":  base + "/$process-message"}},
		"supportedMessage": []any{map[string]any{"mode": "receiver", "definition": pmirMessageDefinition}},
		"documentation":    "Synchronous $process-message: IHE PMIR ITI-93 patient feeds, and any message whose focus includes Patient, Practitioner or Location resources",
	}}
	return ops, messaging
}
