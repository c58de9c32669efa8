package registry

import (
	"context"
	"time"
)

// Event is one change subscribers may hear of. It is written to the outbox
// by Tx.Emit in the transaction of the change itself, so a change that
// commits has its event and a change rolled back has none; delivery reads
// the outbox afterwards.
type Event struct {
	// Kind is "create", "update" or "delete" for a record written through
	// the pipeline, or a golden-record change: "golden-created",
	// "golden-linked", "golden-unlinked", "golden-merged",
	// "golden-unmerged".
	Kind    string
	Type    string // the focus: the record written, or the golden record
	ID      string
	Version int64  // the focus's version written (0: not versioned by this change)
	Source  string // a golden-record event: the source record "Type/id" linked or unlinked
	At      time.Time
}

// Golden-record event kinds.
const (
	EventGoldenCreated  = "golden-created"
	EventGoldenLinked   = "golden-linked"
	EventGoldenUnlinked = "golden-unlinked"
	EventGoldenMerged   = "golden-merged"
	EventGoldenUnmerged = "golden-unmerged"
)

// Notifier is the pipeline's last step: it emits the write's event into
// the outbox (Tx.Emit), inside the write's transaction.
type Notifier interface {
	NotifyWrite(ctx context.Context, tx Tx, w *Write, out *Outcome) error
}
