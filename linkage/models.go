package linkage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"idem/matching"
	"idem/registry"
)

// Models keeps the current matching model. Trained models live in the store,
// so every instance on one database uses the same one: each instance looks
// for a newer version at most once per refresh interval. With no trained
// model stored, the untrained model of the configured rules is used.
type Models struct {
	store    registry.MatchStore
	fallback *matching.Model
	refresh  time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	current *matching.Model
	version int64
	checked time.Time
}

// NewModels returns a model cache over store; rules are the deployment's
// match rules (matching.DefaultRules() unless overridden).
func NewModels(store registry.MatchStore, rules *matching.Rules, refresh time.Duration, log *slog.Logger) *Models {
	fb := matching.NewModel(rules)
	return &Models{store: store, fallback: fb, current: fb, refresh: refresh, log: log}
}

// Current returns the model to use now.
func (m *Models) Current(ctx context.Context) *matching.Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.checked) < m.refresh {
		return m.current
	}
	m.checked = time.Now()
	stored, err := m.store.LatestModel(ctx)
	switch {
	case registry.ErrorCode(err) == registry.ENotFound:
	case err != nil:
		m.log.Warn("cannot load the trained model; keeping the current one", "err", err)
	case stored.Version != m.version:
		model, err := matching.UnmarshalModel(stored.Body)
		if err != nil {
			m.log.Error("stored model is unreadable; keeping the current one", "version", stored.Version, "err", err)
			break
		}
		m.current, m.version = model, stored.Version
		m.log.Info("matching model loaded", "version", stored.Version, "model", model.Version)
	}
	return m.current
}

// Save stores a newly trained model and makes it current here at once.
func (m *Models) Save(ctx context.Context, model *matching.Model, note string) (int64, error) {
	body, err := model.MarshalJSON()
	if err != nil {
		return 0, err
	}
	v, err := m.store.SaveModel(ctx, &registry.StoredModel{Created: time.Now(), Note: note, Body: body})
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.current, m.version, m.checked = model, v, time.Now()
	m.mu.Unlock()
	return v, nil
}
