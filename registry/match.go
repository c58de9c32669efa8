package registry

import (
	"context"
	"time"
)

// MatchStore is what the matcher needs from storage beyond the FHIR
// interactions: candidates by blocking key, value counts for term-frequency
// adjustment, and the trained models shared by every instance.
type MatchStore interface {
	// Candidates returns the current resources of typ that share at least
	// one of keys. A key held by more than limit resources is not used and
	// is returned in capped instead, so callers can report it.
	Candidates(ctx context.Context, typ string, keys []string, limit int) (found []*Resource, capped []string, err error)
	// CountValues returns how many current resources have each folded value
	// in the string index rows of param.
	CountValues(ctx context.Context, param *SearchParam, values []string) (counts map[string]int, err error)
	// CountResources returns how many current resources of typ exist.
	CountResources(ctx context.Context, typ string) (int, error)
	// SetMatchKeys replaces the blocking keys of the given current resources
	// of typ (by id), in one transaction; used to re-key after a rules change.
	SetMatchKeys(ctx context.Context, typ string, keys map[string][]string) error
	// SaveModel stores a new model version and returns its number.
	SaveModel(ctx context.Context, m *StoredModel) (int64, error)
	// LatestModel returns the newest stored model, or ENotFound.
	LatestModel(ctx context.Context) (*StoredModel, error)
}

// StoredModel is one trained matching model as the store keeps it.
type StoredModel struct {
	Version int64
	Created time.Time
	Note    string // what produced it, e.g. "idem match train: 100000 Patients"
	Body    []byte // the model's JSON
}
