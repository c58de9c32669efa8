package registry

import (
	"context"
	"time"
)

// ModelStore keeps the matching models shared by every instance: trained
// candidates, the model in use, and the history of those applied before.
type ModelStore interface {
	// SaveModel stores a new model version and returns its number.
	SaveModel(ctx context.Context, m *StoredModel) (int64, error)
	// CurrentModel returns the model applied last, or ENotFound when none
	// has been (the configured rules' untrained model is in use).
	CurrentModel(ctx context.Context) (*StoredModel, error)
	// Model returns one stored model, or ENotFound.
	Model(ctx context.Context, version int64) (*StoredModel, error)
	// Models lists the stored models, newest first, without their bodies.
	Models(ctx context.Context, limit int) ([]*StoredModel, error)
	// MarkModel records that a model was applied at (its state becomes
	// applied) or sets its state and report without applying it (zero at).
	MarkModel(ctx context.Context, version int64, state string, at time.Time, report []byte) error
}

// Model states: a trained model waits as a candidate until a steward (or
// IDEM_MATCH_AUTOAPPLY) applies it; a training that did not converge is
// kept, failed, for its report; a model once applied stays applied in the
// history (the current one is the one applied last).
const (
	ModelCandidate = "candidate"
	ModelApplied   = "applied"
	ModelFailed    = "failed"
)

// StoredModel is one matching model as the store keeps it.
type StoredModel struct {
	Version int64
	Created time.Time
	Note    string // what produced it, e.g. "idem match train: 100000 Patients"
	Body    []byte // the model's JSON (nil in Models' list)
	State   string // ModelCandidate, ModelApplied or ModelFailed
	Type    string // the resource type it was trained for ("" for every type)
	// Records is the number of records of Type stored when it was trained,
	// the base the retraining growth is measured from.
	Records int
	Applied time.Time // when it was last applied (zero: never)
	Report  []byte    // JSON: the training report, and the re-match of its last apply
}
