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

// Current returns the model to use now: the model applied last, or within
// a re-match under a candidate model (WithModel), that candidate.
func (m *Models) Current(ctx context.Context) *matching.Model {
	if c, ok := ctx.Value(modelKey{}).(*matching.Model); ok {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.checked) < m.refresh {
		return m.current
	}
	m.checked = time.Now()
	stored, err := m.store.CurrentModel(ctx)
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

// Fallback returns the configured rules' untrained model.
func (m *Models) Fallback() *matching.Model { return m.fallback }

// use makes model (stored as version) current here at once; other
// instances follow within their refresh interval.
func (m *Models) use(model *matching.Model, version int64) {
	m.mu.Lock()
	m.current, m.version, m.checked = model, version, time.Now()
	m.mu.Unlock()
}

// modelKey carries a candidate model in the context of the re-match that
// evaluates or applies it; nothing else sets it, so live writes never
// score with a model that has not been applied.
type modelKey struct{}

// withModel returns ctx in which Current answers model.
func withModel(ctx context.Context, model *matching.Model) context.Context {
	return context.WithValue(ctx, modelKey{}, model)
}
