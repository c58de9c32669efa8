package registry

import (
	"fmt"
	"strings"
	"time"
)

// FHIR messaging (R4 messaging.html, operation $process-message): a
// Bundle of type message whose first entry is a MessageHeader; the
// MessageHeader's focus names the entries the event is about.
//
// Two kinds of message are processed:
//
//   - IHE PMIR Mobile Patient Identity Feed [ITI-93]: eventUri
//     urn:ihe:iti:pmir:2019:patient-feed, the focus one history Bundle of
//     Patient creates (POST), updates (PUT), deletes (DELETE) and merges
//     (PUT of the old Patient with active false and a replaced-by link);
//   - any other event whose focus includes Patient, Practitioner or
//     Location resources (each created or updated), or history,
//     transaction or batch Bundles of them; other focus resources are
//     reported ignored.
//
// Every write is the sender's record (push.go), all in one transaction.

// EventPMIRFeed is the event of IHE PMIR's Mobile Patient Identity Feed.
const EventPMIRFeed = "urn:ihe:iti:pmir:2019:patient-feed"

// Message is a parsed message Bundle.
type Message struct {
	ID      string         // MessageHeader.id, the response's response.identifier
	Header  map[string]any // the request's MessageHeader
	Event   string         // eventUri, or eventCoding as system|code
	Writes  []*PushWrite
	Ignored []string // focus resources of types not processed, as "Type/id" or fullUrl
}

// ParseMessage reads a validated Bundle as a message: EInvalid when it is
// no message or its focus cannot be found, EUnprocessable when it holds
// nothing this registry processes.
func ParseMessage(b map[string]any) (*Message, error) {
	if AsString(b["type"]) != "message" {
		return nil, Invalid(EInvalid, "invalid", "Bundle.type", "$process-message takes a Bundle of type message (got %q)", AsString(b["type"]))
	}
	entries := AsList(b["entry"])
	var h map[string]any
	if len(entries) > 0 {
		h = AsObject(AsObject(entries[0])["resource"])
	}
	if AsString(h["resourceType"]) != "MessageHeader" {
		return nil, Invalid(EInvalid, "invalid", "Bundle.entry[0].resource", "a message's first entry must be its MessageHeader")
	}
	m := &Message{Header: h, ID: AsString(h["id"])}
	if m.ID == "" {
		return nil, Invalid(EInvalid, "required", "Bundle.entry[0].resource.id", "the MessageHeader needs an id: the response message refers to it")
	}
	m.Event = AsString(h["eventUri"])
	if c := AsObject(h["eventCoding"]); c != nil {
		m.Event = AsString(c["system"]) + "|" + AsString(c["code"])
	}
	focus := AsList(h["focus"])
	if len(focus) == 0 {
		return nil, Invalid(EInvalid, "required", "MessageHeader.focus", "the MessageHeader names no focus: nothing to process")
	}
	for i, f := range focus {
		ref := AsString(AsObject(f)["reference"])
		j := findEntry(entries, ref)
		expr := fmt.Sprintf("MessageHeader.focus[%d]", i)
		if j <= 0 {
			return nil, Invalid(EInvalid, "not-found", expr, "focus %q is not an entry of the message", ref)
		}
		if err := m.addFocus(j, AsObject(entries[j]), expr); err != nil {
			return nil, err
		}
	}
	if len(m.Writes) == 0 {
		return nil, Invalid(EUnprocessable, "not-supported", "MessageHeader.focus",
			"the message's focus holds no Patient, Practitioner or Location (ignored: %s)", strings.Join(m.Ignored, ", "))
	}
	return m, nil
}

// addFocus adds the writes of the focus entry e (entry j of the message).
func (m *Message) addFocus(j int, e map[string]any, expr string) error {
	res := AsObject(e["resource"])
	typ := AsString(res["resourceType"])
	path := fmt.Sprintf("Bundle.entry[%d].resource", j)
	if m.Event == EventPMIRFeed {
		if typ != "Bundle" || AsString(res["type"]) != "history" {
			return Invalid(EInvalid, "invalid", expr, "the focus of a PMIR patient feed is a history Bundle (got %s)", typ)
		}
		return m.addHistory(res, path, true)
	}
	switch {
	case typ == TypePatient || typ == TypePractitioner || typ == TypeLocation:
		method := "PUT"
		if AsString(res["id"]) == "" {
			method = "POST"
		}
		m.Writes = append(m.Writes, &PushWrite{Path: path, Method: method, Type: typ, FullURL: AsString(e["fullUrl"]), Resource: res})
	case typ == "Bundle" && (AsString(res["type"]) == "history" || AsString(res["type"]) == "transaction" || AsString(res["type"]) == "batch"):
		return m.addHistory(res, path, false)
	default:
		m.Ignored = append(m.Ignored, entryName(e))
	}
	return nil
}

// addHistory adds the writes of a history (or transaction, batch) Bundle
// in its order. A PMIR feed carries Patients only.
func (m *Message) addHistory(b map[string]any, path string, pmir bool) error {
	for k, raw := range AsList(b["entry"]) {
		e := AsObject(raw)
		p := fmt.Sprintf("%s.entry[%d]", path, k)
		req := AsObject(e["request"])
		res := AsObject(e["resource"])
		urlType, urlID, _ := strings.Cut(strings.Trim(AsString(req["url"]), "/"), "/")
		urlID, _, _ = strings.Cut(urlID, "/") // Patient/1/_history/2
		typ := AsString(res["resourceType"])
		if typ == "" {
			typ = urlType
		}
		switch {
		case res != nil && urlType != "" && urlType != typ:
			return Invalid(EInvalid, "invalid", p+".request.url", "request.url %q does not name the entry's %s", AsString(req["url"]), typ)
		case pmir && typ != TypePatient:
			return Invalid(EUnprocessable, "not-supported", p, "a PMIR patient feed carries Patients only (got %q)", typ)
		case typ != TypePatient && typ != TypePractitioner && typ != TypeLocation:
			m.Ignored = append(m.Ignored, entryName(e))
			continue
		}
		w := &PushWrite{Path: p, Method: AsString(req["method"]), Type: typ, LocalID: urlID, FullURL: AsString(e["fullUrl"]), Resource: res}
		if w.Method == "DELETE" {
			w.Resource = nil
		}
		// PMIR ITI-93 3.93.4.1.3: a merge deprecates the stored Patient.
		w.Deprecate = pmir && w.Method == "PUT" && res["active"] == false && hasReplacedBy(res)
		m.Writes = append(m.Writes, w)
	}
	return nil
}

// findEntry returns the index of the entry a reference names: by fullUrl,
// by Type/id, or a fullUrl ending in /Type/id; -1 for none.
func findEntry(entries []any, ref string) int {
	if ref == "" {
		return -1
	}
	for i, raw := range entries {
		e := AsObject(raw)
		res := AsObject(e["resource"])
		full := AsString(e["fullUrl"])
		local := AsString(res["resourceType"]) + "/" + AsString(res["id"])
		if full == ref || (AsString(res["id"]) != "" && (local == ref || strings.HasSuffix(full, "/"+ref) || strings.HasSuffix(ref, "/"+local))) {
			return i
		}
	}
	return -1
}

// entryName names an entry for a report: its fullUrl, else Type/id.
func entryName(e map[string]any) string {
	if f := AsString(e["fullUrl"]); f != "" {
		return f
	}
	res := AsObject(e["resource"])
	return AsString(res["resourceType"]) + "/" + AsString(res["id"])
}

// Response codes of a response message (MessageHeader.response.code).
const (
	ResponseOK        = "ok"
	ResponseTransient = "transient-error"
	ResponseFatal     = "fatal-error"
)

// ResponseCode is the response code for the result of processing: ok, a
// transient error (the store, a conflict with a concurrent write, the
// rate limit: send again later) or a fatal one (the content: do not send
// again unchanged).
func ResponseCode(err error) string {
	switch ErrorCode(err) {
	case "":
		return ResponseOK
	case EInternal, EConflict, ETooManyRequest:
		return ResponseTransient
	}
	return ResponseFatal
}

// MessageReply describes the response message to build.
type MessageReply struct {
	Base     string // this server's FHIR base URL (MessageHeader.source.endpoint)
	Software string // software name and version
	Version  string
	Now      time.Time
	NewID    func() string
}

// Response builds the response message of m: a message Bundle whose
// MessageHeader answers m's (response.identifier = m's MessageHeader.id,
// response.code from err) with an OperationOutcome as its details: the
// error's issues, or one information issue per write naming the registry
// record and golden record it became.
func (m *Message) Response(r MessageReply, err error) map[string]any {
	var oo map[string]any
	if err != nil {
		oo = ErrorOutcome(err)
	} else {
		oo = OperationOutcome(m.outcomeIssues())
	}
	hid, oid := r.NewID(), r.NewID()
	source := map[string]any{"name": r.Software, "software": r.Software, "endpoint": r.Base}
	if r.Version != "" {
		source["version"] = r.Version
	}
	oo["id"] = oid
	h := map[string]any{"resourceType": "MessageHeader", "id": hid,
		"source":   source,
		"response": map[string]any{"identifier": m.ID, "code": ResponseCode(err), "details": map[string]any{"reference": "urn:uuid:" + oid}}}
	if v, ok := m.Header["eventCoding"]; ok {
		h["eventCoding"] = v
	} else {
		h["eventUri"] = m.Header["eventUri"]
	}
	if ep := AsString(AsObject(m.Header["source"])["endpoint"]); ep != "" {
		h["destination"] = []any{map[string]any{"endpoint": ep}}
	}
	return map[string]any{"resourceType": "Bundle", "id": r.NewID(), "type": "message", "timestamp": FormatInstant(r.Now),
		"entry": []any{
			map[string]any{"fullUrl": "urn:uuid:" + hid, "resource": h},
			map[string]any{"fullUrl": "urn:uuid:" + oid, "resource": oo},
		}}
}

// outcomeIssues says what each write did, and what was ignored.
func (m *Message) outcomeIssues() []Issue {
	var out []Issue
	for _, w := range m.Writes {
		msg := fmt.Sprintf("%s %s", w.Method, w.Type)
		if w.LocalID != "" {
			msg += " " + w.LocalID
		}
		msg += ": " + w.PushResult()
		if rec := w.Record(); rec != "" {
			msg += ", registry record " + rec
		}
		if w.Out != nil && w.Out.Golden != "" {
			msg += ", golden record " + w.Out.Golden
		}
		out = append(out, Issue{Severity: SeverityInformation, Code: "informational", Diagnostics: msg, Expression: []string{w.Path}})
	}
	for _, name := range m.Ignored {
		out = append(out, Issue{Severity: SeverityWarning, Code: "not-supported", Diagnostics: "ignored: " + name + " is not a Patient, Practitioner or Location"})
	}
	return out
}

// hasReplacedBy reports whether a Patient has a link of type replaced-by.
func hasReplacedBy(res map[string]any) bool {
	for _, l := range AsList(res["link"]) {
		if AsString(AsObject(l)["type"]) == "replaced-by" {
			return true
		}
	}
	return false
}
