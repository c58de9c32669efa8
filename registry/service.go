package registry

import (
	"context"
	"maps"
	"net/url"
	"time"
)

// Service carries out the FHIR REST interactions over a Store: it assigns
// ids and versions, sets meta, extracts index rows, and applies the
// conditional and versioning rules of FHIR R4 http.html. Every write runs
// the pipeline of pipeline.go.
type Service struct {
	Store  Store
	Writer *Writer // the store step (ids, versions, index rows); defaults when nil
	Steps          // authorize, resolve and link, audit
	// Holds, when set, holds a client's create or update that cannot be
	// completed yet (held.go): nil refuses it instead.
	Holds *Holds
}

// Outcome is the result of a write interaction.
type Outcome struct {
	Resource *Resource
	Created  bool   // a new resource (201), not a new version of an existing one
	Existing bool   // conditional create matched an existing resource (200)
	NoChange bool   // delete of an already deleted resource
	Golden   string // "Person/id" or "Linkage/id" the record is linked to, if any
	// What linking did, for bulk import reports: a new golden record was
	// made for the record, review items it opened, blocking keys too
	// common to use.
	NewGolden bool
	Review    int
	Capped    []string
	// Decision is the linking decision the write made, if it changed any
	// link: the write's AuditEvent records it (one event for both).
	Decision *LinkDecision
	// Held, when set, is the held write the request became (202): nothing
	// was stored yet.
	Held *Held
}

// LinkDecision is a linking decision as the audit trail names it: its op
// id, kind (link, unlink, ...), reason, and the records it touched.
type LinkDecision struct {
	Op       int64
	Kind     string
	Reason   string
	Entities []string
}

// Status returns the HTTP status for a write outcome.
func (o *Outcome) Status() int {
	switch {
	case o.Held != nil:
		return 202
	case o.Created:
		return 201
	default:
		return 200
	}
}

var defaultWriter = &Writer{}

func (s *Service) writer() *Writer {
	if s.Writer == nil {
		return defaultWriter
	}
	return s.Writer
}

func (s *Service) now() time.Time { return s.writer().Time() }

// Now is the registry's clock (the Writer's).
func (s *Service) Now() time.Time { return s.now() }

// NewResourceID returns a new server-assigned resource id.
func (s *Service) NewResourceID() string { return s.newID() }

func (s *Service) newID() string { return s.writer().NewResourceID() }

// Read returns the current version of typ/id: ENotFound if unknown, EGone if deleted.
func (s *Service) Read(ctx context.Context, typ, id string) (*Resource, error) {
	r, err := s.Store.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		return r, Errorf(EGone, "%s/%s was deleted", typ, id)
	}
	return r, nil
}

// VRead returns one version of typ/id; a deletion version is EGone.
func (s *Service) VRead(ctx context.Context, typ, id string, version int64) (*Resource, error) {
	r, err := s.Store.VRead(ctx, typ, id, version)
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		return r, Errorf(EGone, "%s/%s version %d is a deletion", typ, id, version)
	}
	return r, nil
}

// Create stores res as a new resource with a server-assigned id. With
// ifNoneExist (a query string) it is a conditional create: an existing single
// match is returned instead (Existing), several matches are EPrecondition.
func (s *Service) Create(ctx context.Context, typ string, res map[string]any, ifNoneExist string) (*Outcome, error) {
	var out *Outcome
	id := s.newID()
	if ifNoneExist == "" && s.mayHold(ctx) {
		return s.holdable(ctx, &Held{Action: "create", Type: typ, ResourceID: id}, res)
	}
	keys := s.matchKeys(typ, res)
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		out, err = s.createTx(ctx, tx, typ, id, res, ifNoneExist, keys)
		return err
	})
	return out, err
}

// CreateTx is Create inside an open transaction, with the id to use.
func (s *Service) CreateTx(ctx context.Context, tx Tx, typ, id string, res map[string]any, ifNoneExist string) (*Outcome, error) {
	return s.createTx(ctx, tx, typ, id, res, ifNoneExist, s.matchKeys(typ, res))
}

// matchKeys computes blocking keys and features; callers do it before
// entering the transaction, so the work stays off SQLite's single writer.
func (s *Service) matchKeys(typ string, res map[string]any) MatchIndex {
	return s.writer().Index(typ, res)
}

func (s *Service) createTx(ctx context.Context, tx Tx, typ, id string, res map[string]any, ifNoneExist string, keys MatchIndex) (*Outcome, error) {
	if ifNoneExist != "" {
		criteria, err := parseCriteria(typ, ifNoneExist, "If-None-Exist")
		if err != nil {
			return nil, err
		}
		found, err := s.match(ctx, tx, typ, criteria, "If-None-Exist")
		if err != nil || found != nil {
			return &Outcome{Resource: found, Existing: true}, err
		}
		out, err := s.put(ctx, tx, typ, id, res, nil, keys)
		if err != nil {
			return nil, err
		}
		return out, tx.ClaimKeys(ctx, Claim{Type: typ, Key: CanonicalQuery(typ, criteria), ID: id})
	}
	return s.put(ctx, tx, typ, id, res, nil, keys)
}

// match returns the single current resource matching criteria, nil for none,
// and EPrecondition for several.
func (s *Service) match(ctx context.Context, tx Tx, typ string, criteria url.Values, what string) (*Resource, error) {
	q, err := ParseQuery(typ, criteria, true)
	if err != nil {
		return nil, err
	}
	if len(q.Clauses) == 0 {
		return nil, Invalid(EInvalid, "invalid", what, "%s has no search criteria", what)
	}
	found, err := tx.Match(ctx, q, 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) > 1:
		return nil, Errorf(EPrecondition, "%s criteria match more than one %s", what, typ)
	case len(found) == 1:
		return found[0], nil
	}
	return nil, nil
}

func parseCriteria(typ, query, what string) (url.Values, error) {
	v, err := url.ParseQuery(query)
	if err != nil {
		return nil, Invalid(EInvalid, "invalid", what, "%s is not a valid query string: %v", what, err)
	}
	return v, nil
}

// Update stores res as the new version of typ/id, creating it when unknown
// (update as create). ifMatch > 0 requires that version to be current.
func (s *Service) Update(ctx context.Context, typ, id string, res map[string]any, ifMatch int64) (*Outcome, error) {
	if err := checkBodyID(typ, id, res); err != nil {
		return nil, err
	}
	if s.mayHold(ctx) {
		return s.holdable(ctx, &Held{Action: "update", Type: typ, ResourceID: id, IfMatch: ifMatch}, res)
	}
	var out *Outcome
	keys := s.matchKeys(typ, res)
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		out, err = s.updateTx(ctx, tx, typ, id, res, ifMatch, keys)
		return err
	})
	return out, err
}

// UpdateTx is Update inside an open transaction.
func (s *Service) UpdateTx(ctx context.Context, tx Tx, typ, id string, res map[string]any, ifMatch int64) (*Outcome, error) {
	return s.updateTx(ctx, tx, typ, id, res, ifMatch, s.matchKeys(typ, res))
}

func (s *Service) updateTx(ctx context.Context, tx Tx, typ, id string, res map[string]any, ifMatch int64, keys MatchIndex) (*Outcome, error) {
	cur, err := tx.Read(ctx, typ, id)
	var prev int64
	switch {
	case ErrorCode(err) == ENotFound:
		cur = nil
	case err != nil:
		return nil, err
	default:
		prev = cur.VersionID
	}
	if ifMatch > 0 && (prev != ifMatch || cur.Deleted) {
		return nil, Errorf(EPrecondition, "If-Match version %d is not the current version of %s/%s (current: %d)", ifMatch, typ, id, prev)
	}
	return s.put(ctx, tx, typ, id, res, cur, keys)
}

// ConditionalUpdate updates the one resource matching criteria, creates one
// when none matches, and fails with EPrecondition when several match.
func (s *Service) ConditionalUpdate(ctx context.Context, typ string, criteria url.Values, res map[string]any, ifMatch int64) (*Outcome, error) {
	var out *Outcome
	newID := s.newID()
	keys := s.matchKeys(typ, res)
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		out, err = s.conditionalUpdateTx(ctx, tx, typ, criteria, res, ifMatch, newID, keys)
		return err
	})
	return out, err
}

// ConditionalUpdateTx is ConditionalUpdate inside an open transaction;
// newID is used when nothing matches and the body carries no id.
func (s *Service) ConditionalUpdateTx(ctx context.Context, tx Tx, typ string, criteria url.Values, res map[string]any, ifMatch int64, newID string) (*Outcome, error) {
	return s.conditionalUpdateTx(ctx, tx, typ, criteria, res, ifMatch, newID, s.matchKeys(typ, res))
}

func (s *Service) conditionalUpdateTx(ctx context.Context, tx Tx, typ string, criteria url.Values, res map[string]any, ifMatch int64, newID string, keys MatchIndex) (*Outcome, error) {
	found, err := s.match(ctx, tx, typ, criteria, "conditional update")
	if err != nil {
		return nil, err
	}
	bodyID, _ := res["id"].(string)
	switch {
	case found != nil && bodyID != "" && bodyID != found.ID:
		return nil, Invalid(EInvalid, "invalid", typ+".id", "resource id %q does not match the resource %s/%s found by the criteria", bodyID, typ, found.ID)
	case found != nil:
		return s.updateTx(ctx, tx, typ, found.ID, res, ifMatch, keys)
	case bodyID != "":
		return s.updateTx(ctx, tx, typ, bodyID, res, ifMatch, keys)
	}
	// Nothing matched: a create, which claims the criteria as a
	// conditional create does, so two at once make one record. The loser
	// is retried and updates the winner's record: res must come to the
	// retry without the id the store step gives it.
	out, err := s.put(ctx, tx, typ, newID, maps.Clone(res), nil, keys)
	if err != nil {
		return nil, err
	}
	return out, tx.ClaimKeys(ctx, Claim{Type: typ, Key: CanonicalQuery(typ, criteria), ID: newID})
}

// Delete marks typ/id deleted (a new, empty version). Deleting a deleted
// resource changes nothing; an unknown one is ENotFound.
func (s *Service) Delete(ctx context.Context, typ, id string) (*Outcome, error) {
	var out *Outcome
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		out, err = s.DeleteTx(ctx, tx, typ, id)
		return err
	})
	return out, err
}

// DeleteTx is Delete inside an open transaction.
func (s *Service) DeleteTx(ctx context.Context, tx Tx, typ, id string) (*Outcome, error) {
	cur, err := tx.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if cur.Deleted {
		return &Outcome{Resource: cur, NoChange: true}, nil
	}
	return s.run(ctx, tx, &Write{Action: "delete", Type: typ, ID: id, Stored: cur})
}

// ConditionalDelete deletes the one resource matching criteria; none is
// ENotFound, several EPrecondition.
func (s *Service) ConditionalDelete(ctx context.Context, typ string, criteria url.Values) (*Outcome, error) {
	var out *Outcome
	err := s.Store.Write(ctx, func(tx Tx) error {
		found, err := s.match(ctx, tx, typ, criteria, "conditional delete")
		if err != nil {
			return err
		}
		if found == nil {
			return Errorf(ENotFound, "no %s matches the conditional delete criteria", typ)
		}
		out, err = s.DeleteTx(ctx, tx, typ, found.ID)
		return err
	})
	return out, err
}

// put runs the pipeline for a new version of typ/id replacing cur (nil:
// none, a create).
func (s *Service) put(ctx context.Context, tx Tx, typ, id string, res map[string]any, cur *Resource, keys MatchIndex) (*Outcome, error) {
	action := "update"
	if cur == nil || cur.Deleted {
		action = "create"
	}
	return s.run(ctx, tx, &Write{Action: action, Type: typ, ID: id, Resource: res, Stored: cur, Index: keys})
}

// FormatInstant formats t as a FHIR instant in UTC with microsecond precision at most.
func FormatInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

// checkBodyID enforces http.html#update: the body's id must equal the URL's.
func checkBodyID(typ, id string, res map[string]any) error {
	bodyID, ok := res["id"].(string)
	if !ok {
		return Invalid(EInvalid, "required", typ+".id", "the resource in an update must carry id %q", id)
	}
	if bodyID != id {
		return Invalid(EInvalid, "invalid", typ+".id", "resource id %q does not match the URL id %q", bodyID, id)
	}
	return nil
}

// Search parses params for typ (strict: unknown parameters are errors) and runs the search.
func (s *Service) Search(ctx context.Context, typ string, params url.Values, strict bool) (*Query, *SearchResult, error) {
	q, err := ParseQuery(typ, params, strict)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.Store.Search(ctx, q)
	return q, res, err
}

// History returns a page of instance (id set) or type history.
func (s *Service) History(ctx context.Context, q *HistoryQuery) (*HistoryResult, error) {
	return s.Store.History(ctx, q)
}
