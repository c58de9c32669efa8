package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"idem/registry/fhir"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Holds is the Service's queue of held writes (held.go): where they are
// kept, how references to registered peers are followed, and the audit
// trail of every hold, release and rejection.
type Holds struct {
	Store HeldStore
	// Follow fetches the peers' records refs point at and registers them
	// here (traversal, through the pipeline as each peer's client); it
	// reports whether it registered any. Nil: references to peers wait.
	Follow func(ctx context.Context, refs []Unresolved) (bool, error)
	// Audit records holds, releases and rejections (nil: not recorded).
	Audit *Auditor
	// Retry is the longest wait between attempts to follow a peer's
	// record again (default 5 minutes).
	Retry time.Duration
}

// mayHold reports whether a write in ctx is held rather than refused when
// it cannot be completed: a client's single write with a queue to hold it.
func (s *Service) mayHold(ctx context.Context) bool {
	a, ok := ActorIn(ctx)
	return s.Holds != nil && ok && a.Kind == "client"
}

// holdable carries out h's write, and holds it when the resolve step
// cannot resolve a reference (after following references to peers once)
// or the policy sends it to review.
func (s *Service) holdable(ctx context.Context, h *Held, res map[string]any) (*Outcome, error) {
	hctx := WithHolding(ctx)
	out, err := s.apply(hctx, h, res)
	if refs, ok := UnresolvedIn(err); ok && s.follow(hctx, refs) {
		out, err = s.apply(hctx, h, res)
	}
	refs, unresolved := UnresolvedIn(err)
	rule, review := ReviewIn(err)
	if !unresolved && !review {
		return out, err
	}
	now := s.now()
	h.ID, h.Status, h.Actor, h.Created, h.Updated, h.NextTry = uuid.NewString(), HeldPending, ActorFrom(ctx), now, now, now
	h.Body = fhir.MarshalResource(res)
	if review {
		h.Kind, h.Reason = HeldReview, fmt.Sprintf("%s records from %s are reviewed by a steward before they are stored (rule: %s)", h.Type, h.Actor.Name, rule)
	} else {
		h.Kind, h.Waiting, h.Reason = HeldReference, refs, ErrorMessage(err)
	}
	if err := s.Holds.Store.PutHeld(ctx, h); err != nil {
		return nil, err
	}
	if err := s.auditHeld(ctx, h, "held", AuditSuccess, h.Reason); err != nil {
		return nil, err
	}
	return &Outcome{Held: h}, nil
}

// follow asks Holds.Follow to register the peers' records refs name.
func (s *Service) follow(ctx context.Context, refs []Unresolved) bool {
	if s.Holds.Follow == nil {
		return false
	}
	var peer []Unresolved
	for _, r := range refs {
		if r.Peer != "" {
			peer = append(peer, r)
		}
	}
	if len(peer) == 0 {
		return false
	}
	ok, err := s.Holds.Follow(ctx, peer)
	return ok && err == nil
}

// apply runs h's write through the pipeline in one transaction.
func (s *Service) apply(ctx context.Context, h *Held, res map[string]any) (*Outcome, error) {
	keys := s.matchKeys(h.Type, res)
	var out *Outcome
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		if h.Action == "create" {
			out, err = s.createTx(ctx, tx, h.Type, h.ResourceID, res, "", keys)
		} else {
			out, err = s.updateTx(ctx, tx, h.Type, h.ResourceID, res, h.IfMatch, keys)
		}
		return err
	})
	return out, err
}

// HeldWrite returns held write id as its submitter, a steward or an admin
// may see it.
func (s *Service) HeldWrite(ctx context.Context, id string) (*Held, error) {
	if s.Holds == nil {
		return nil, Errorf(ENotFound, "no held write %s", id)
	}
	h, err := s.Holds.Store.Held(ctx, id)
	if err != nil {
		return nil, err
	}
	a := ActorFrom(ctx)
	if !(a.HasRole("steward") || a.HasRole("admin") || (a.Kind == h.Actor.Kind && a.Name == h.Actor.Name)) {
		return nil, Errorf(ENotFound, "no held write %s", id) // another client's submission is not its business
	}
	return h, nil
}

// HeldWrites lists held writes (stewards and admins).
func (s *Service) HeldWrites(ctx context.Context, f HeldFilter) ([]*Held, error) {
	if err := mayDecide(ctx); err != nil {
		return nil, err
	}
	if s.Holds == nil {
		return nil, nil
	}
	return s.Holds.Store.HeldList(ctx, f)
}

func mayDecide(ctx context.Context) error {
	a := ActorFrom(ctx)
	if a.HasRole("steward") || a.HasRole("admin") {
		return nil
	}
	return Errorf(EForbidden, "%s %s: only stewards and admins decide held writes", a.Kind, a.Name)
}

// Accept releases held write id, which a steward reviewed (edited: the
// steward's version of the resource, nil to keep the submitted one): it
// is written through the pipeline as its submitter, and the decision is
// audited. A write the pipeline refuses stays pending, with the error.
func (s *Service) Accept(ctx context.Context, id string, edited map[string]any) (*Held, error) {
	if err := mayDecide(ctx); err != nil {
		return nil, err
	}
	h, err := s.pendingHeld(ctx, id)
	if err != nil {
		return nil, err
	}
	steward := ActorFrom(ctx)
	res, err := h.resource()
	if err != nil {
		return nil, err
	}
	if edited != nil {
		if h.Action == "update" {
			edited["id"] = h.ResourceID
		} else {
			delete(edited, "id")
		}
		if meta, _ := res["meta"].(map[string]any); meta != nil {
			edited["meta"] = meta // the submitter's source stays its own
		}
		res = edited
	}
	wctx := withReviewed(WithActor(ctx, h.Actor), steward.Name)
	if h.Kind == HeldReference {
		wctx = WithHolding(wctx)
	}
	out, err := s.apply(wctx, h, res)
	if err != nil {
		return nil, err
	}
	h.Body = fhir.MarshalResource(res)
	return h, s.settle(ctx, h, out, steward.Name)
}

// Reject rejects held write id with reason; the decision is audited.
func (s *Service) Reject(ctx context.Context, id, reason string) (*Held, error) {
	if err := mayDecide(ctx); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, Invalid(EInvalid, "required", "reason", "a rejection needs a reason")
	}
	h, err := s.pendingHeld(ctx, id)
	if err != nil {
		return nil, err
	}
	h.Status, h.Reason, h.DecidedBy, h.Updated = HeldRejected, reason, ActorFrom(ctx).Name, s.now()
	// The decision is audited before it shows: a rejection seen is a
	// rejection recorded.
	if err := s.auditHeld(ctx, h, "held-rejected", AuditMinorFailure, reason); err != nil {
		return nil, err
	}
	return h, s.Holds.Store.PutHeld(ctx, h)
}

func (s *Service) pendingHeld(ctx context.Context, id string) (*Held, error) {
	if s.Holds == nil {
		return nil, Errorf(ENotFound, "no held write %s", id)
	}
	h, err := s.Holds.Store.Held(ctx, id)
	if err != nil {
		return nil, err
	}
	if h.Status != HeldPending {
		return nil, Errorf(EConflict, "held write %s was %s already", id, h.Status)
	}
	return h, nil
}

// settle records that h was written as out.
func (s *Service) settle(ctx context.Context, h *Held, out *Outcome, by string) error {
	r := out.Resource
	h.Status, h.DecidedBy, h.Updated = HeldAccepted, by, s.now()
	h.Result = fmt.Sprintf("%s/%s/_history/%d", r.Type, r.ID, r.VersionID)
	if err := s.auditHeld(ctx, h, "held-accepted", AuditSuccess, "stored as "+h.Result); err != nil {
		return err
	}
	return s.Holds.Store.PutHeld(ctx, h)
}

// ReleaseWaiting tries the held writes that wait for references whose
// targets may have arrived: each is written again (as its submitter)
// when every reference it waits for now finds a record, or a reference
// to a peer is due to be followed again. It returns how many were stored.
func (s *Service) ReleaseWaiting(ctx context.Context, limit int) (int, error) {
	if s.Holds == nil {
		return 0, nil
	}
	list, err := s.Holds.Store.HeldList(ctx, HeldFilter{Kind: HeldReference, Status: HeldPending, Limit: limit})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range list {
		ok, err := s.releaseOne(ctx, h)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// releaseOne tries one waiting write; it reports whether it was stored.
func (s *Service) releaseOne(ctx context.Context, h *Held) (bool, error) {
	now := s.now()
	wctx := WithHolding(WithActor(ctx, h.Actor))
	ready, err := s.arrived(ctx, h.Waiting)
	if err != nil {
		return false, err
	}
	if !ready && now.Before(h.NextTry) {
		return false, nil
	}
	if !ready && !s.follow(wctx, h.Waiting) {
		return false, s.retryLater(ctx, h, now)
	}
	res, err := h.resource()
	if err != nil {
		return false, err
	}
	out, err := s.apply(wctx, h, res)
	if refs, ok := UnresolvedIn(err); ok {
		h.Waiting, h.Reason = refs, ErrorMessage(err)
		return false, s.retryLater(ctx, h, now)
	}
	if err != nil && h.Action == "create" && ErrorCode(err) == EConflict {
		// Stored by an earlier attempt that failed to settle: settle now.
		if r, rerr := s.Store.Read(ctx, h.Type, h.ResourceID); rerr == nil && !r.Deleted {
			return true, s.settle(ctx, h, &Outcome{Resource: r}, "system")
		}
	}
	if err != nil {
		if ErrorCode(err) == EInternal || IsRetry(err) {
			return false, err
		}
		// The policy or the content refuses it now: it will never be stored.
		h.Status, h.Reason, h.DecidedBy, h.Updated = HeldRejected, ErrorMessage(err), "system", now
		if aerr := s.auditHeld(wctx, h, "held-rejected", AuditMinorFailure, h.Reason); aerr != nil {
			return false, aerr
		}
		return false, s.Holds.Store.PutHeld(ctx, h)
	}
	h.Body = fhir.MarshalResource(res)
	return true, s.settle(wctx, h, out, "system")
}

// retryLater backs off following h's peers' records again.
func (s *Service) retryLater(ctx context.Context, h *Held, now time.Time) error {
	h.Tries++
	wait := time.Second << min(h.Tries, 20)
	if limit := s.Holds.Retry; limit > 0 && wait > limit {
		wait = limit
	} else if limit <= 0 && wait > 5*time.Minute {
		wait = 5 * time.Minute
	}
	h.NextTry, h.Updated = now.Add(wait), now
	return s.Holds.Store.PutHeld(ctx, h)
}

// arrived reports whether every reference of refs now finds a record
// (read-only: no write transaction is spent on a write that would wait
// again).
func (s *Service) arrived(ctx context.Context, refs []Unresolved) (bool, error) {
	for _, r := range refs {
		var tries []url.Values
		if r.ID != "" {
			tries = append(tries, url.Values{"_id": {r.ID}})
		}
		if r.Source != "" {
			tries = append(tries, url.Values{"_source": {r.Source}})
		}
		if r.Identifier != "" {
			tries = append(tries, url.Values{"identifier": {r.Identifier}})
		}
		found := false
		for _, p := range tries {
			p.Set("_count", "1")
			q, err := ParseQuery(r.Type, p, true)
			if err != nil {
				continue
			}
			res, err := s.Store.Search(ctx, q)
			if err != nil {
				return false, err
			}
			if len(res.Matches) > 0 {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// resource decodes the held body.
func (h *Held) resource() (map[string]any, error) {
	var res map[string]any
	if err := json.Unmarshal(h.Body, &res); err != nil {
		return nil, Internal(err)
	}
	return res, nil
}

// Resource returns the held resource as it will be written.
func (h *Held) Resource() (map[string]any, error) { return h.resource() }

// auditHeld records a hold, release or rejection of h.
func (s *Service) auditHeld(ctx context.Context, h *Held, sub, outcome, desc string) error {
	if s.Holds.Audit == nil {
		return nil
	}
	action := "C"
	if h.Action == "update" {
		action = "U"
	}
	var entities []string
	if h.Result != "" {
		entities = []string{h.Result}
	}
	detail := map[string]string{"held": h.ID, "kind": h.Kind, "status": h.Status, "submitter": h.Actor.Name, "record": h.Type + "/" + h.ResourceID}
	_, err := s.Holds.Audit.Record(ctx, AuditRecord{Action: action, Subtype: sub, Outcome: outcome, OutcomeDesc: desc,
		Agent: ActorFrom(ctx), Entities: entities, Detail: detail})
	return err
}
