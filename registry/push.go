package registry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"idem/registry/fhir"
)

// Pushed data: the records a source sends inside a FHIR message
// ($process-message) or a document (Bundle/$extract) are written here,
// through the write pipeline as the acting client, all in one
// transaction: either every write of the message or document is stored,
// linked, audited and notified, or none is.
//
// The ids inside a pushed message or document are the sender's own: a
// record with id "123" from a client whose system is S is kept with
// meta.source "S/Patient/123" and found again by it (as $import does), so
// the same record sent again updates, never duplicates, and references
// between the sender's records ("Patient/123", or a fullUrl of another
// entry) resolve to the registry's ids in the resolve step. An actor
// without a system (an admin client, idem itself) addresses registry ids
// directly.

// PushWrite is one write a pushed message or document carries.
type PushWrite struct {
	Path     string         // where it sits in the request, for errors ("Bundle.entry[1].resource.entry[0]")
	Method   string         // PUT: create or update the sender's record; POST: create; DELETE
	Type     string         // Patient, Practitioner or Location
	LocalID  string         // the sender's own id of the record ("" : none)
	FullURL  string         // the entry's fullUrl, which other entries may reference
	Resource map[string]any // the content; nil for a DELETE
	// Deprecate: the write is a PMIR merge (active false, a replaced-by
	// link), which deprecates the stored record: the elements the merge
	// entry leaves out (identifiers, names) are kept from the stored
	// version, so the old record's identifiers still lead to it.
	Deprecate bool

	id     string // the registry id, when known before the transaction
	source string // meta.source "<system>/<Type>/<local id>" the record is found by
	body   []byte // the prepared content: each attempt of the transaction starts from it
	keys   MatchIndex

	// Out is what the write did, after Push: the version stored (a
	// deletion marker for a DELETE), the golden record. Nil when a DELETE
	// found no record.
	Out *Outcome
}

// Push writes ws, in order, in one transaction, as the actor of ctx.
func (s *Service) Push(ctx context.Context, ws []*PushWrite) error {
	if len(ws) == 0 {
		return Errorf(EInvalid, "nothing to write")
	}
	system := strings.TrimSuffix(ActorFrom(ctx).System, "/")
	targets := map[string]string{}
	for _, w := range ws {
		if err := w.prepare(system, s.newID); err != nil {
			return err
		}
		if w.FullURL != "" {
			targets[w.FullURL] = w.Type + "/" + w.ref()
		}
	}
	for _, w := range ws {
		if w.Resource != nil {
			relativeRefs(w.Resource, targets, system)
			w.body = fhir.MarshalResource(w.Resource)
		}
	}
	s.indexAll(len(ws), func(i int) {
		if w := ws[i]; w.Resource != nil {
			w.keys = s.writer().Index(w.Type, w.Resource)
		}
	})
	return s.Store.Write(ctx, func(tx Tx) error {
		for _, w := range ws {
			out, err := s.pushOne(ctx, tx, w)
			if err != nil {
				return atPath(w.Path, err)
			}
			w.Out = out
		}
		return s.claimPushed(ctx, tx, ws)
	})
}

// prepare decides how the write finds its record: by the sender's id
// under its system, by registry id, or not at all (a new record).
func (w *PushWrite) prepare(system string, newID func() string) error {
	bad := func(format string, args ...any) error {
		return Invalid(EInvalid, "invalid", w.Path, format, args...)
	}
	if !IsType(w.Type) || w.Type == TypePerson || w.Type == TypeLinkage || w.Type == TypeAuditEvent {
		return bad("%s is not a type a source writes here (Patient, Practitioner, Location)", w.Type)
	}
	if w.Resource != nil {
		if id, _ := w.Resource["id"].(string); id != "" {
			w.LocalID = id
		}
		delete(w.Resource, "id")
	}
	switch {
	case w.Method != "POST" && w.Method != "PUT" && w.Method != "DELETE":
		return bad("request.method %q: a pushed write is POST, PUT or DELETE", w.Method)
	case w.Method != "DELETE" && w.Resource == nil:
		return bad("a %s needs a resource", w.Method)
	case w.Method != "POST" && w.LocalID == "":
		return bad("a %s needs the record's id", w.Method)
	case w.LocalID != "" && system != "":
		w.source = system + "/" + w.Type + "/" + w.LocalID
		if w.Resource != nil {
			meta := AsObject(w.Resource["meta"])
			if meta == nil {
				meta = map[string]any{}
			}
			meta["source"] = w.source
			w.Resource["meta"] = meta
		}
	case w.LocalID != "":
		w.id = w.LocalID
	default:
		w.id = newID()
	}
	return nil
}

// ref is the reference other entries' references to this one become: the
// registry id when known, else the sender's id, which the resolve step
// turns into the registry's.
func (w *PushWrite) ref() string {
	if w.id != "" {
		return w.id
	}
	return w.LocalID
}

// pushOne carries out one write inside tx.
func (s *Service) pushOne(ctx context.Context, tx Tx, w *PushWrite) (*Outcome, error) {
	id := w.id
	if w.source != "" {
		found, err := s.match(ctx, tx, w.Type, url.Values{"_source": {w.source}}, "the sender's id")
		if err != nil {
			return nil, err
		}
		if found != nil {
			id = found.ID
		}
	}
	if w.Method == "DELETE" {
		if id == "" {
			return nil, nil // no such record: nothing to delete
		}
		out, err := s.DeleteTx(ctx, tx, w.Type, id)
		if ErrorCode(err) == ENotFound {
			return nil, nil
		}
		return out, err
	}
	res, err := fhir.DecodeJSON(w.body) // a retried transaction starts from the prepared content
	if err != nil {
		return nil, Internal(err)
	}
	if id == "" {
		return s.put(ctx, tx, w.Type, s.newID(), res, nil, w.keys)
	}
	res["id"] = id
	if w.Deprecate {
		if err := keepStored(ctx, tx, w.Type, id, res); err != nil {
			return nil, err
		}
	}
	out, err := s.updateTx(ctx, tx, w.Type, id, res, 0, w.keys)
	if err == nil {
		w.Resource = res
	}
	return out, err
}

// relativeRefs rewrites references to other entries (their fullUrl) and
// absolute references into the sender's own system to references the
// registry resolves.
func relativeRefs(res map[string]any, targets map[string]string, system string) {
	walkRefs(res, func(holder map[string]any, ref string) {
		if t, ok := targets[ref]; ok {
			holder["reference"] = t
			return
		}
		if system == "" {
			return
		}
		if rest, ok := strings.CutPrefix(ref, system+"/"); ok {
			if t, id, ok := strings.Cut(rest, "/"); ok && IsType(t) && id != "" && !strings.Contains(id, "/") {
				holder["reference"] = rest
			}
		}
	})
}

// atPath prefixes a write's error with where the write sits in the
// request, keeping its code; internal errors and retries pass unchanged.
func atPath(path string, err error) error {
	code := ErrorCode(err)
	if code == EInternal {
		return err
	}
	out := &Error{Code: code, Message: fmt.Sprintf("%s: %s", path, ErrorMessage(err))}
	for _, is := range ErrorIssues(err) {
		is.Diagnostics = path + ": " + is.Diagnostics
		if len(is.Expression) == 0 {
			is.Expression = []string{path}
		}
		out.Issues = append(out.Issues, is)
	}
	return out
}

// PushResult names what a write became: "created", "updated", "deleted"
// or "unchanged" (a DELETE that found nothing to delete).
func (w *PushWrite) PushResult() string {
	switch {
	case w.Out == nil || w.Out.NoChange:
		return "unchanged"
	case w.Out.Resource != nil && w.Out.Resource.Deleted:
		return "deleted"
	case w.Out.Created:
		return "created"
	}
	return "updated"
}

// Record is "Type/id" of the registry record the write touched, "" for none.
func (w *PushWrite) Record() string {
	if w.Out == nil || w.Out.Resource == nil {
		return ""
	}
	return w.Out.Resource.Type + "/" + w.Out.Resource.ID
}

// keepStored copies into res the top-level elements of the current
// version of typ/id that res leaves out (not meta, text or id).
func keepStored(ctx context.Context, tx Tx, typ, id string, res map[string]any) error {
	cur, err := tx.Read(ctx, typ, id)
	if ErrorCode(err) == ENotFound || (err == nil && cur.Deleted) {
		return nil
	}
	if err != nil {
		return err
	}
	stored, err := DecodeStored(cur)
	if err != nil {
		return err
	}
	for k, v := range stored {
		switch k {
		case "meta", "text", "id":
		default:
			if _, ok := res[k]; !ok {
				res[k] = v
			}
		}
	}
	return nil
}
