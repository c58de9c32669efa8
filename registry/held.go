package registry

import (
	"context"
	"errors"
	"fmt"
	"idem/registry/fhir"
	"strings"
	"time"
)

// Held writes. A create or update a client pushes is not always stored at
// once: a reference in it may point at a record the registry does not hold
// yet (kind HeldReference: the write waits, no placeholder is made, and it
// is released when the target arrives), or the policy may send that
// client's records of that type to a steward first (kind HeldReview: the
// reconciliation queue). The client gets 202 Accepted and a status URL;
// the held write is later carried through the pipeline as the client, or
// rejected with a reason. Only single REST writes by a client are held
// (Service.Create, Update, ConditionalUpdate with Holds set); a Bundle
// entry, a pull or an import that cannot be resolved keeps its references
// as sent.

// Kinds of held writes.
const (
	HeldReference = "reference" // waits for the records its references name
	HeldReview    = "review"    // waits for a steward
)

// States of a held write.
const (
	HeldPending  = "pending"
	HeldAccepted = "accepted"
	HeldRejected = "rejected"
)

// Held is one held write.
type Held struct {
	ID         string
	Kind       string // HeldReference or HeldReview
	Status     string // HeldPending, HeldAccepted, HeldRejected
	Actor      Actor  // the submitting client; the write is released as it
	Action     string // create or update
	Type       string
	ResourceID string // the id the record gets (create) or has (update)
	IfMatch    int64  // the If-Match version of an update, 0 for none
	Body       []byte // the resource as it will be written
	Waiting    []Unresolved
	Reason     string // why it waits; why it was rejected
	Result     string // "Type/id/_history/n" once accepted
	DecidedBy  string // the steward (or "system") who accepted or rejected it
	Tries      int    // release attempts so far
	NextTry    time.Time
	Created    time.Time
	Updated    time.Time
}

// Unresolved is one reference the registry could not resolve, with what
// would resolve it: a record with registry id ID, one whose meta.source is
// Source (the same source's record), one with identifier Identifier
// ("system|value"), or the record at URL on the registered peer Peer.
type Unresolved struct {
	Path       string `json:"path"`      // FHIRPath of the reference: "Patient.generalPractitioner[0]"
	Reference  string `json:"reference"` // as sent (or "identifier system|value" for a logical one)
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	Source     string `json:"source,omitempty"`
	Identifier string `json:"identifier,omitempty"`
	Peer       string `json:"peer,omitempty"` // Endpoint id
	URL        string `json:"url,omitempty"`  // the peer's record URL
}

// HeldFilter selects held writes; zero fields select all.
type HeldFilter struct {
	Kind, Status, Client, Type string
	DueBy                      time.Time // NextTry at or before (kind reference)
	Limit                      int
}

// HeldStore keeps held writes.
type HeldStore interface {
	// PutHeld inserts h or replaces the held write with its id.
	PutHeld(ctx context.Context, h *Held) error
	// Held returns held write id, or an ENotFound error.
	Held(ctx context.Context, id string) (*Held, error)
	// HeldList returns the held writes f selects, oldest first.
	HeldList(ctx context.Context, f HeldFilter) ([]*Held, error)
}

// unresolvedError is the cause of the resolve step's error for references
// it could not resolve.
type unresolvedError struct{ refs []Unresolved }

func (e *unresolvedError) Error() string { return "unresolved references" }

// UnresolvedError is the resolve step's answer for references it could not
// resolve: a 422 naming each (not-found, at its element), which becomes a
// 202 and a held write where the write may be held.
func UnresolvedError(typ string, refs []Unresolved) *Error {
	e := &Error{Code: EUnprocessable, Err: &unresolvedError{refs}}
	var names []string
	for _, r := range refs {
		names = append(names, r.Reference)
		e.Issues = append(e.Issues, fhir.Issue{Severity: fhir.SeverityError, Code: "not-found", Expression: []string{r.Path},
			Diagnostics: fmt.Sprintf("%s: %s is not in the registry", r.Path, r.Reference)})
	}
	e.Message = fmt.Sprintf("%s refers to records the registry does not hold: %s", typ, strings.Join(names, ", "))
	return e
}

// UnresolvedIn returns the references err says could not be resolved.
func UnresolvedIn(err error) ([]Unresolved, bool) {
	var u *unresolvedError
	if errors.As(err, &u) {
		return u.refs, true
	}
	return nil, false
}

// reviewError is the cause of the authorize step's error for a write the
// policy sends to review.
type reviewError struct{ rule string }

func (e *reviewError) Error() string { return "review required: " + e.rule }

// ReviewError is the authorize step's answer for a write the policy sends
// to a steward (rule names the setting): a 403 where the write cannot be
// held (a Bundle entry), a held write of kind review where it can.
func ReviewError(a Actor, typ, rule string) *Error {
	return &Error{Code: EForbidden, Err: &reviewError{rule},
		Message: fmt.Sprintf("%s %s: %s records from %s are reviewed by a steward before they are stored; send them one at a time as a create or update (rule: %s)", a.Kind, a.Name, typ, a.Name, rule)}
}

// ReviewIn returns the rule of a write the policy sends to review.
func ReviewIn(err error) (string, bool) {
	var r *reviewError
	if errors.As(err, &r) {
		return r.rule, true
	}
	return "", false
}

type holdingKey struct{}
type reviewedKey struct{}

// WithHolding marks ctx as a write that may be held: the resolve step
// reports unresolvable references instead of keeping them, and the
// authorize step reports a write to review instead of refusing it.
func WithHolding(ctx context.Context) context.Context {
	return context.WithValue(ctx, holdingKey{}, true)
}

// Holding reports whether the write in ctx may be held.
func Holding(ctx context.Context) bool { v, _ := ctx.Value(holdingKey{}).(bool); return v }

// withReviewed marks ctx as the release of a write a steward accepted.
func withReviewed(ctx context.Context, steward string) context.Context {
	return context.WithValue(ctx, reviewedKey{}, steward)
}

// Reviewed returns the steward who accepted the write in ctx, "" when it
// was not reviewed: the authorize step lets a reviewed write through the
// review setting (every other check still applies).
func Reviewed(ctx context.Context) string { v, _ := ctx.Value(reviewedKey{}).(string); return v }
