package ui

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
	"idem/web"
)

// The reconciliation queue: writes the registry holds (registry/held.go)
// until a steward decides them (kind review) or their references arrive
// (kind reference). A page per held write shows the incoming record beside
// what the registry holds, field by field as the compare page does, and
// accepts it as sent, accepts the steward's edited version, or rejects it
// with a reason. The decisions go through the same service calls as the
// API's $accept and $reject, which run the write pipeline as the submitter
// and audit the decision.

// heldShown bounds the rows of the queue page.
const heldShown = 200

// heldCandidates bounds the registry records shown beside a new record.
const heldCandidates = 3

type reconcileListPage struct {
	view
	Status, Kind string
	Statuses     []string
	Kinds        []string
	Items        []heldItem
	More         bool // more held writes than shown
}

// heldItem is a held write as the pages show it.
type heldItem struct {
	Held     *registry.Held
	Incoming *record
}

type reconcileItemPage struct {
	view
	heldItem
	Theirs  []*record
	Scores  []string // the match probability of each of Theirs ("" for the stored record)
	Rows    []compareRow
	Stored  bool   // Theirs[0] is the record an update replaces
	Edited  string // the JSON in the edit box
	Reason  string // the rejection reason as typed
	Error   string // why the last decision failed
	Pending bool
}

// handleReconcileList lists held writes, pending first by default.
func (s *Server) handleReconcileList(c *fiber.Ctx) error {
	p := reconcileListPage{view: s.baseView(c, "Reconciliation", "reconcile"), Status: c.Query("status", registry.HeldPending),
		Kind: c.Query("kind"), Statuses: []string{registry.HeldPending, registry.HeldAccepted, registry.HeldRejected},
		Kinds: []string{registry.HeldReview, registry.HeldReference}}
	if !slices.Contains(p.Statuses, p.Status) {
		return registry.Errorf(registry.EInvalid, "status: want pending, accepted or rejected")
	}
	if p.Kind != "" && !slices.Contains(p.Kinds, p.Kind) {
		return registry.Errorf(registry.EInvalid, "kind: want review or reference")
	}
	held, err := s.registry.HeldWrites(c.UserContext(), registry.HeldFilter{Status: p.Status, Kind: p.Kind, Limit: heldShown + 1})
	if err != nil {
		return err
	}
	if len(held) > heldShown {
		held, p.More = held[:heldShown], true
	}
	for _, h := range held {
		p.Items = append(p.Items, heldItem{Held: h, Incoming: incoming(h)})
	}
	return s.render(c, fiber.StatusOK, "reconcile", p)
}

// incoming is the record a held write would store.
func incoming(h *registry.Held) *record {
	out := &record{Ref: h.Type + "/" + h.ResourceID, Type: h.Type, ID: h.ResourceID, Updated: h.Created}
	res, err := h.Resource()
	if err != nil {
		out.Missing = true
		return out
	}
	return readFields(out, res)
}

func (s *Server) handleReconcileItem(c *fiber.Ctx) error {
	return s.reconcileItem(c, fiber.StatusOK, reconcileItemPage{})
}

// reconcileItem renders held write :id with p's form state; a decision
// that failed is shown with status and its message.
func (s *Server) reconcileItem(c *fiber.Ctx, status int, p reconcileItemPage) error {
	ctx := c.UserContext()
	h, err := s.registry.HeldWrite(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	p.view = s.baseView(c, "Held "+h.Type, "reconcile")
	p.heldItem = heldItem{Held: h, Incoming: incoming(h)}
	p.Pending = h.Status == registry.HeldPending
	if p.Edited == "" {
		p.Edited = editableJSON(h)
	}
	if h.Action == "update" {
		stored, err := s.registry.Read(ctx, h.Type, h.ResourceID)
		switch {
		case err == nil:
			p.Theirs, p.Scores, p.Stored = append(p.Theirs, toRecord(stored)), append(p.Scores, ""), true
		case registry.ErrorCode(err) != registry.ENotFound && registry.ErrorCode(err) != registry.EGone:
			return err
		}
	}
	if err := s.similar(c, h, &p); err != nil {
		return err
	}
	p.Rows = compareRows(p.Incoming, p.Theirs)
	return s.render(c, status, "reconcile_item", p)
}

// similar adds the registry's best matches for a held record (the
// matcher's $match, without the record itself).
func (s *Server) similar(c *fiber.Ctx, h *registry.Held, p *reconcileItemPage) error {
	if s.matcher == nil || !linkage.Matchable(h.Type) {
		return nil
	}
	res, err := h.Resource()
	if err != nil {
		return nil // incoming already shows it as missing
	}
	out, err := s.matcher.Match(c.UserContext(), h.Type, res, linkage.MatchOptions{Count: heldCandidates + 1})
	if err != nil {
		return err
	}
	shown := 0
	for _, m := range out.Candidates {
		if m.Resource.ID == h.ResourceID || shown == heldCandidates {
			continue
		}
		shown++
		p.Theirs = append(p.Theirs, toRecord(m.Resource))
		p.Scores = append(p.Scores, m.Match.Grade+" "+formatScore(m.Match.Probability))
	}
	return nil
}

// editableJSON is the held resource, indented, for the edit box.
func editableJSON(h *registry.Held) string {
	res, err := h.Resource()
	if err != nil {
		return string(h.Body)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return string(h.Body)
	}
	return string(b)
}

// handleReconcileAccept accepts held write :id: as submitted, or (with
// edit=1) the steward's version from the edit box.
func (s *Server) handleReconcileAccept(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id := c.Params("id")
	var edited map[string]any
	text := postValue(c, "resource")
	if postValue(c, "edit") == "1" {
		h, err := s.registry.HeldWrite(ctx, id)
		if err != nil {
			return err
		}
		if edited, err = s.host.ParseResource([]byte(text), h.Type); err != nil {
			return s.decisionFailed(c, err, reconcileItemPage{Edited: text})
		}
	}
	h, err := s.registry.Accept(ctx, id, edited)
	if err != nil {
		return s.decisionFailed(c, err, reconcileItemPage{Edited: text})
	}
	s.setFlash(c, flash{Kind: "ok", Msg: "Accepted: stored as " + h.Result + "."})
	return redirect(c, "/reconcile")
}

// handleReconcileReject rejects held write :id with the form's reason.
func (s *Server) handleReconcileReject(c *fiber.Ctx) error {
	reason := strings.TrimSpace(postValue(c, "reason"))
	h, err := s.registry.Reject(c.UserContext(), c.Params("id"), reason)
	if err != nil {
		return s.decisionFailed(c, err, reconcileItemPage{Reason: reason})
	}
	s.setFlash(c, flash{Kind: "ok", Msg: "Rejected " + h.Type + "/" + h.ResourceID + " from " + h.Actor.Name + ": " + h.Reason})
	return redirect(c, "/reconcile")
}

// decisionFailed shows the item again with what the steward typed and why
// the decision failed (a bad edit, a reason missing, a refusal by the
// pipeline); internal errors and a held write that is gone take the error
// page.
func (s *Server) decisionFailed(c *fiber.Ctx, err error, p reconcileItemPage) error {
	err = web.AsError(err)
	switch registry.ErrorCode(err) {
	case registry.EInternal, registry.ENotFound, registry.EForbidden:
		return err
	}
	p.Error = registry.ErrorMessage(err)
	return s.reconcileItem(c, registry.Status(err), p)
}
