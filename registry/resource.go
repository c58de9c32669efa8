package registry

import (
	"context"
	"time"
)

// Resource types the registry serves.
const (
	TypePatient      = "Patient"
	TypePractitioner = "Practitioner"
	TypeLocation     = "Location"
	TypePerson       = "Person"
	TypeLinkage      = "Linkage"
	TypeAuditEvent   = "AuditEvent"
)

// Types lists every resource type with a REST endpoint, in CapabilityStatement order.
var Types = []string{TypePatient, TypePractitioner, TypeLocation, TypePerson, TypeLinkage, TypeAuditEvent}

// IsType reports whether typ is a resource type the registry serves.
func IsType(typ string) bool {
	for _, t := range Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Resource is one version of a stored resource. Body is the resource's JSON
// as stored (id and meta set by the registry); it is nil for a deletion.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	Deleted     bool
	Body        []byte
}

// Put is one new version to store. PrevVersion is the version it replaces
// (0: the id must not exist yet); the store refuses the write with a
// retryable conflict when the current version is no longer PrevVersion.
type Put struct {
	Resource    *Resource
	PrevVersion int64
	Index       *Index // search-index rows of the new version; nil for a deletion
}

// Claim is one conditional-create key (CanonicalQuery) and the record
// Type/ID that the create produced.
type Claim struct {
	Type, Key, ID string
}

// Tx is the view of the store inside one write transaction: resources,
// and the links, operations and blocking candidates of linking. Everything
// done through one Tx commits or rolls back together.
type Tx interface {
	// Read returns the current version of typ/id, including a deletion
	// marker (Deleted set), or an ENotFound error.
	Read(ctx context.Context, typ, id string) (*Resource, error)
	// ReadAll is Read for many records of typ at once: the current version
	// of each known one, deletion markers included, by id; ids not known
	// are absent.
	ReadAll(ctx context.Context, typ string, ids []string) (map[string]*Resource, error)
	// ReadVersion returns one version of typ/id, or an ENotFound error.
	ReadVersion(ctx context.Context, typ, id string, version int64) (*Resource, error)
	// Match returns up to limit current resources that satisfy q's clauses
	// (sort, paging and includes ignored); used by conditional interactions.
	Match(ctx context.Context, q *Query, limit int) ([]*Resource, error)
	// Put stores a new version with its index rows.
	Put(ctx context.Context, p *Put) error
	// ClaimKeys records, for each claim, that the conditional create
	// identified by its key produced its record; a concurrent claim of the
	// same key fails with a retryable error. Claims are released when the
	// resource is updated or deleted.
	ClaimKeys(ctx context.Context, claims ...Claim) error

	// Candidates is MatchStore.Candidates seeing this transaction's writes.
	// On a store with concurrent writers it first serialises on the keys,
	// so two transactions writing the same new entity cannot both miss
	// each other.
	Candidates(ctx context.Context, typ string, q CandidateQuery) (*CandidateSet, error)
	// PrefetchBlocking reads at once, for a batch about to be linked, how
	// many records hold each of its blocking keys, so that its records'
	// Candidates calls need not each ask (serialising on the keys first,
	// as Candidates does).
	PrefetchBlocking(ctx context.Context, keys []string) error
	// PrefetchCandidates starts reading, beside the transaction, the
	// written candidates of each query of typ, in order, so that the
	// Candidates calls with the same queries that follow find them read.
	// The reads must see exactly what the transaction sees but its own
	// writes; a store that cannot promise that here (concurrent writers,
	// or this transaction has written already) does nothing, and
	// Candidates reads as usual.
	PrefetchCandidates(ctx context.Context, typ string, qs []CandidateQuery)
	// LoadLinks reads the links of these records of typ in one query, for
	// the Links calls about them that follow in the transaction.
	LoadLinks(ctx context.Context, typ string, ids []string) error
	// LoadGoldenLinks reads the links naming these golden records of typ
	// in one query, for the Links calls about them that follow.
	LoadGoldenLinks(ctx context.Context, typ string, ids []string) error
	// Links returns the links f selects (paging ignored).
	Links(ctx context.Context, f LinkFilter) ([]*Link, error)
	// PutLink inserts l, or replaces the link of the same golden and
	// source records; it sets l.ID and appends a LinkEvent for op.
	PutLink(ctx context.Context, l *Link, op *Op) error
	// DeleteLink removes the link between golden and source, if any, and
	// appends a LinkEvent for op.
	DeleteLink(ctx context.Context, l *Link, op *Op) error
	// AddOp stores op and sets op.ID; UndoOp marks op undone by another.
	AddOp(ctx context.Context, op *Op) error
	UndoOp(ctx context.Context, id, by int64) error
	// Op reads one op for update.
	Op(ctx context.Context, id int64) (*Op, error)
	// Emit appends events to the outbox; they commit with the transaction.
	Emit(ctx context.Context, evs ...Event) error
}

// Store persists resources. Reads see committed data; Write runs fn in one
// transaction and retries it when it loses a race with another writer
// (fn must therefore have no effects outside tx).
type Store interface {
	Read(ctx context.Context, typ, id string) (*Resource, error)
	VRead(ctx context.Context, typ, id string, version int64) (*Resource, error)
	Write(ctx context.Context, fn func(tx Tx) error) error
	Search(ctx context.Context, q *Query) (*SearchResult, error)
	History(ctx context.Context, q *HistoryQuery) (*HistoryResult, error)
	Ping(ctx context.Context) error
	Close() error
}

// SearchResult is one page of a search.
type SearchResult struct {
	Total    int         // number of matches; -1 when not counted
	Matches  []*Resource // this page, in order
	Included []*Resource // _include / _revinclude results
	Next     string      // opaque cursor of the next page, "" on the last
	Prev     string      // opaque cursor of the previous page, "" on the first
	Self     string      // opaque cursor of this page, "" on the first
}

// HistoryQuery selects versions for instance, type or system history.
type HistoryQuery struct {
	Type  string    // "" for system history
	ID    string    // "" for type history
	Since time.Time // zero: all
	Count int
	Page  string // opaque cursor from a previous result
}

// HistoryResult is one page of history, newest first.
type HistoryResult struct {
	Total    int
	Versions []*Resource
	Next     string
	Prev     string
}
