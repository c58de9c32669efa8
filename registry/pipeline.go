package registry

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"

	"idem/registry/fhir"
)

// The write pipeline. Every create, update and delete of a resource a
// client may write — from the REST API, a Bundle entry, a CLI load, an
// import, a re-match — runs these steps, in this order, in the write's
// transaction, and nothing else does:
//
// A batch (a transaction Bundle, an import batch) first runs the link
// step's look ahead over all its records (Linker.Prepare), then each
// record the steps below, then rebuilds the golden records its links
// touched, once each (Linker.Settle), then the audit step once for all
// its records.
//
//  1. authorize: may the acting client or user (ActorFrom(ctx)) make this
//     write, given the stored record's owner and the new record's
//     identifier domains? (Authorizer; the policy's decision)
//  2. validate: the resource was parsed and validated against R4 and the
//     repeat limits when the request was read (ParseResource); generated
//     resources (the demo, seed) are built valid.
//  3. resolve: references between one source's records are rewritten to
//     registry ids (Linker.Resolve).
//  4. store: a new version with its index rows, blocking keys and match
//     features (Writer).
//  5. link: the record is matched and linked to its golden record, or
//     unlinked when deleted (Linker.Link); golden records are written
//     through the system path below (in a batch, when it settles).
//  6. audit: an AuditEvent for the write (AuditTrail). A batch's writes
//     are audited together when the batch ends (AuditBatch): a few events
//     each naming up to a hundred records with the decision each made.
//  7. notify: the write's event goes to the outbox (Notifier), from which
//     subscriptions are served after the commit.
//
// Golden records and AuditEvents are idem's own. They are written by
// Writer.Create, Writer.Replace and Writer.Delete directly: the system
// path, which has no authorize, resolve, link or audit step to skip. The
// linking decision a write makes is recorded in the write's AuditEvent,
// naming the golden records it rewrote; a steward's decision has its own.

// Write is one write the pipeline carries out.
type Write struct {
	Action   string         // "create", "update" or "delete"
	Type, ID string         // the record written
	Resource map[string]any // the new content; nil for a delete
	Stored   *Resource      // the version it replaces (a deletion marker too); nil when none
	Index    MatchIndex     // blocking keys and features, computed before the transaction
}

// Authorizer is the pipeline's authorize step. It may set meta.source on
// w.Resource (the writing client's own record URL).
type Authorizer interface {
	AuthorizeWrite(ctx context.Context, tx Tx, w *Write) error
}

// Linker is the pipeline's resolve and link steps.
type Linker interface {
	// Prepare begins a batch about to be written in tx (a transaction
	// Bundle, an import batch) and returns the context its writes run
	// in. It looks ahead over the batch (each Write holds the record's
	// Type and Index only): the store reads at once what the batch's link
	// steps will ask (blocking key counts; candidates, beside the writer
	// where the store can), before anything of the batch is written.
	Prepare(ctx context.Context, tx Tx, batch []*Write) (context.Context, error)
	// Settle ends the batch begun in ctx, after its last write and
	// before its audit step: the golden records its links touched are
	// rebuilt, once each.
	Settle(ctx context.Context, tx Tx) error
	// Resolve rewrites w.Resource before it is stored.
	Resolve(ctx context.Context, tx Tx, w *Write) error
	// Link links the stored version (or unlinks a deleted record) and
	// names its golden record in out.Golden.
	Link(ctx context.Context, tx Tx, w *Write, out *Outcome) error
}

// AuditTrail is the pipeline's audit step.
type AuditTrail interface {
	// AuditWrite audits one write.
	AuditWrite(ctx context.Context, tx Tx, w *Write, out *Outcome) error
	// AuditBatch audits the writes of a batch at its end, in its
	// transaction, in fewer events than one per write.
	AuditBatch(ctx context.Context, tx Tx, writes []Audited) error
}

// Steps are the pipeline's steps besides storing. A nil step is not part
// of the service: the registry's own tests run without policy, linking,
// audit or notification; app always sets all four.
type Steps struct {
	Authorize Authorizer
	Link      Linker
	Audit     AuditTrail
	Notify    Notifier
}

// run carries w through the pipeline.
func (s *Service) run(ctx context.Context, tx Tx, w *Write) (*Outcome, error) {
	if s.Authorize != nil {
		if err := s.Authorize.AuthorizeWrite(ctx, tx, w); err != nil {
			return nil, err
		}
	}
	if s.Link != nil && w.Resource != nil {
		if err := s.Link.Resolve(ctx, tx, w); err != nil {
			return nil, err
		}
	}
	out, err := s.writer().store(ctx, tx, w)
	if err != nil {
		return nil, err
	}
	if s.Link != nil {
		if err := s.Link.Link(ctx, tx, w, out); err != nil {
			return nil, err
		}
	}
	if b := auditBatchFrom(ctx); b != nil && s.Audit != nil {
		b.writes = append(b.writes, Audited{Write: w, Outcome: out})
	} else if s.Audit != nil {
		if err := s.Audit.AuditWrite(ctx, tx, w, out); err != nil {
			return nil, err
		}
	}
	if s.Notify != nil && !out.NoChange {
		if err := s.Notify.NotifyWrite(ctx, tx, w, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Writer stores new versions inside a transaction: it assigns ids and
// version numbers, sets meta, and extracts the index rows, blocking keys
// and match features. It is the pipeline's store step and, called
// directly, the system path for golden records and AuditEvents.
type Writer struct {
	Now   func() time.Time // injectable clock; time.Now when nil
	NewID func() string    // id generator; UUIDv7 (time-ordered, index friendly) when nil
	// MatchIndex, when set, returns the blocking keys and the compact
	// features of a resource; they are stored with its index rows so the
	// matcher finds candidates by index and scores them without their JSON.
	MatchIndex func(typ string, res map[string]any) MatchIndex
}

// Time returns the current time as versions record it (UTC, microseconds).
func (w *Writer) Time() time.Time {
	if w != nil && w.Now != nil {
		return w.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// NewResourceID returns a new server-assigned resource id.
func (w *Writer) NewResourceID() string {
	if w != nil && w.NewID != nil {
		return w.NewID()
	}
	return uuid.Must(uuid.NewV7()).String()
}

// Index computes the blocking keys and features of res (none without a
// MatchIndex); callers do it before entering the transaction, so the work
// stays off SQLite's single writer.
func (w *Writer) Index(typ string, res map[string]any) MatchIndex {
	if w == nil || w.MatchIndex == nil {
		return MatchIndex{}
	}
	return w.MatchIndex(typ, res)
}

// Replace stores res as the next version over cur, the current version the
// caller read in tx (nil: none), for idem itself (the system path).
func (w *Writer) Replace(ctx context.Context, tx Tx, cur *Resource, typ, id string, res map[string]any) (*Outcome, error) {
	return w.store(ctx, tx, &Write{Action: "update", Type: typ, ID: id, Resource: res, Stored: cur, Index: w.Index(typ, res)})
}

// Create stores res as the new resource typ/id (an id never used: the
// store refuses a duplicate), for idem itself (the system path).
func (w *Writer) Create(ctx context.Context, tx Tx, typ, id string, res map[string]any) (*Outcome, error) {
	return w.store(ctx, tx, &Write{Action: "create", Type: typ, ID: id, Resource: res, Index: w.Index(typ, res)})
}

// Delete marks typ/id deleted, for idem itself (the system path); an
// unknown or deleted resource is left as it is.
func (w *Writer) Delete(ctx context.Context, tx Tx, typ, id string) (*Outcome, error) {
	cur, err := tx.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if cur.Deleted {
		return &Outcome{Resource: cur, NoChange: true}, nil
	}
	return w.store(ctx, tx, &Write{Action: "delete", Type: typ, ID: id, Stored: cur})
}

// store writes w's version: the content with its index rows, or a
// deletion marker.
func (w *Writer) store(ctx context.Context, tx Tx, wr *Write) (*Outcome, error) {
	var prev int64
	if wr.Stored != nil {
		prev = wr.Stored.VersionID
	}
	r := &Resource{Type: wr.Type, ID: wr.ID, VersionID: prev + 1, LastUpdated: w.Time()}
	put := &Put{Resource: r, PrevVersion: prev}
	if wr.Resource == nil {
		r.Deleted = true
	} else {
		setMeta(wr.Resource, wr.ID, r.VersionID, r.LastUpdated)
		r.Body = fhir.MarshalResource(wr.Resource)
		put.Index = Extract(wr.Type, wr.Resource)
		put.Index.MatchKeys, put.Index.MatchRecord, put.Index.MatchTerms = wr.Index.Keys, wr.Index.Record, wr.Index.Terms
	}
	if err := tx.Put(ctx, put); err != nil {
		return nil, err
	}
	return &Outcome{Resource: r, Created: wr.Stored == nil || (wr.Stored.Deleted && wr.Resource != nil)}, nil
}

// setMeta sets the server-managed id, meta.versionId and meta.lastUpdated,
// keeping the client's other meta elements (profile, tag, security, source).
func setMeta(res map[string]any, id string, version int64, at time.Time) {
	res["id"] = id
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.FormatInt(version, 10)
	meta["lastUpdated"] = FormatInstant(at)
	res["meta"] = meta
}
