package registry

import (
	"context"
	"time"
)

// Match results of a link, as HAPI FHIR MDM names them.
const (
	MatchResultMatch             = "MATCH"              // the source record is this golden record's entity
	MatchResultPossible          = "POSSIBLE_MATCH"     // a candidate, waiting for a steward (the review queue)
	MatchResultNoMatch           = "NO_MATCH"           // a steward said: not this entity (sticky)
	MatchResultPossibleDuplicate = "POSSIBLE_DUPLICATE" // two golden records that may be one entity
	MatchResultRedirect          = "REDIRECT"           // a golden record merged into another
)

// Link sources: who decided.
const (
	LinkSourceAuto   = "AUTO"   // the matcher; re-matching may change it
	LinkSourceManual = "MANUAL" // a steward; re-matching never overrides it
)

// Link ties a source record (Patient, Practitioner or Location; a Person for
// POSSIBLE_DUPLICATE and REDIRECT) to a golden record: the Person for people,
// the Linkage for Locations. A pair of records has at most one link.
type Link struct {
	ID          int64
	GoldenType  string // Person or Linkage
	GoldenID    string
	SourceType  string
	SourceID    string
	MatchResult string
	LinkSource  string
	Score       float64 // match probability, 0 when not scored (a steward's link)
	Grade       string  // FHIR match-grade of Score
	RuleVersion string  // the model version that scored it
	Evidence    []byte  // JSON of the per-field explanation, nil when not scored
	EIDMatch    bool    // decided by a shared enterprise identifier
	NewGolden   bool    // the golden record was created for this source record
	Created     time.Time
	Updated     time.Time
}

// Golden returns "Type/id" of the link's golden record.
func (l *Link) Golden() string { return l.GoldenType + "/" + l.GoldenID }

// Source returns "Type/id" of the link's source record.
func (l *Link) Source() string { return l.SourceType + "/" + l.SourceID }

// GoldenRef returns the link's golden record.
func (l *Link) GoldenRef() Ref { return Ref{Type: l.GoldenType, ID: l.GoldenID} }

// SourceRef returns the link's source record.
func (l *Link) SourceRef() Ref { return Ref{Type: l.SourceType, ID: l.SourceID} }

// LinkFilter selects links; empty fields match everything.
type LinkFilter struct {
	GoldenType, GoldenID string
	SourceType, SourceID string
	MatchResult          []string // any of these
	LinkSource           string
	MinScore, MaxScore   float64   // MaxScore 0: no upper bound
	CreatedBefore        time.Time // zero: any age
	NewGolden            *bool     // the link's NewGolden; nil: any
	SortByScore          bool      // best score first; otherwise newest first
	Offset, Count        int       // Count 0: no limit
}

// LinkPage is one page of links and the number of links the filter selects.
type LinkPage struct {
	Links []*Link
	Total int
}

// LinkEvent is one change of a link, kept forever: the link's state after
// the change (MatchResult "" when the link was removed), who made it, why,
// and the operation it was part of.
type LinkEvent struct {
	ID     int64
	OpID   int64
	Link   Link // the state after the change
	Actor  string
	Reason string
	At     time.Time
}

// Op is one linking decision, automatic or a steward's: every link and
// golden record it changed is listed in Before with its prior state, so the
// decision can be undone exactly.
type Op struct {
	ID       int64
	Kind     string // link, update-link, create-link, merge, not-duplicate, clear, submit, undo
	Actor    string
	Reason   string
	At       time.Time
	Before   []byte // JSON of the prior state (linkage.Snapshot)
	Undoes   int64  // the op this one undid, 0 if none
	UndoneBy int64  // the op that undid this one, 0 if none
}

// ReviewCount is the number of open review items of one source type and age.
type ReviewCount struct {
	SourceType  string
	MatchResult string
	Age         string // "<1d", "1-7d", "7-30d", ">30d"
	Items       int
}

// LinkStore answers the read-side questions about links.
type LinkStore interface {
	QueryLinks(ctx context.Context, f LinkFilter) (*LinkPage, error)
	// LinkHistory returns the events of the links between the given golden
	// and source records (either list may be empty), oldest first.
	LinkHistory(ctx context.Context, goldenIDs, sourceIDs []string) ([]*LinkEvent, error)
	Ops(ctx context.Context, ids []int64) ([]*Op, error)
	// ReviewCounts counts open review items (POSSIBLE_MATCH and
	// POSSIBLE_DUPLICATE links) by source type and age at now.
	ReviewCounts(ctx context.Context, now time.Time) ([]ReviewCount, error)
}
