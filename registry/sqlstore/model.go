package sqlstore

import (
	"context"
	"time"

	"idem/registry"
)

// modelStateMigration gives each stored model a state (candidate, applied,
// failed), the type and record count it was trained on, when it was last
// applied and its report. Models stored before were applied when stored.
var modelStateMigration = migration{
	sqlite: []string{
		`ALTER TABLE match_models ADD COLUMN state TEXT NOT NULL DEFAULT 'applied'`,
		`ALTER TABLE match_models ADD COLUMN type TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE match_models ADD COLUMN records INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE match_models ADD COLUMN applied INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE match_models ADD COLUMN report BLOB`,
		`UPDATE match_models SET applied = created`,
	},
	postgres: []string{
		`ALTER TABLE match_models ADD COLUMN state TEXT NOT NULL DEFAULT 'applied'`,
		`ALTER TABLE match_models ADD COLUMN type TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE match_models ADD COLUMN records BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE match_models ADD COLUMN applied BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE match_models ADD COLUMN report BYTEA`,
		`UPDATE match_models SET applied = created`,
	},
}

// modelRow is one row of match_models.
type modelRow struct {
	Version int64
	Created int64
	Note    string
	Body    []byte
	State   string
	Type    string
	Records int
	Applied int64
	Report  []byte
}

func (r *modelRow) model() *registry.StoredModel {
	m := &registry.StoredModel{Version: r.Version, Created: time.UnixMicro(r.Created).UTC(), Note: r.Note, Body: r.Body,
		State: r.State, Type: r.Type, Records: r.Records, Report: r.Report}
	if r.Applied != 0 {
		m.Applied = time.UnixMicro(r.Applied).UTC()
	}
	return m
}

// SaveModel stores a new model version; a model saved applied (its
// Applied time set) becomes the current one.
func (s *Store) SaveModel(ctx context.Context, m *registry.StoredModel) (int64, error) {
	state, applied := m.State, int64(0)
	if state == "" {
		state = registry.ModelCandidate
	}
	if !m.Applied.IsZero() {
		state, applied = registry.ModelApplied, m.Applied.UnixMicro()
	}
	var version int64
	err := s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		if err := t.flush(ctx); err != nil {
			return err
		}
		return t.db.WithContext(ctx).Raw(`INSERT INTO match_models (created, note, body, state, type, records, applied, report)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING version`,
			m.Created.UnixMicro(), m.Note, m.Body, state, m.Type, m.Records, applied, m.Report).Scan(&version).Error
	})
	return version, err
}

const modelColumns = `version, created, note, body, state, type, records, applied, report`

// CurrentModel returns the model applied last.
func (s *Store) CurrentModel(ctx context.Context) (*registry.StoredModel, error) {
	var rows []modelRow
	err := s.read.WithContext(ctx).Raw(`SELECT ` + modelColumns + ` FROM match_models WHERE applied > 0 ORDER BY applied DESC, version DESC LIMIT 1`).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no trained model has been applied")
	}
	return rows[0].model(), nil
}

// Model returns one stored model.
func (s *Store) Model(ctx context.Context, version int64) (*registry.StoredModel, error) {
	var rows []modelRow
	err := s.read.WithContext(ctx).Raw(`SELECT `+modelColumns+` FROM match_models WHERE version = ?`, version).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no matching model version %d", version)
	}
	return rows[0].model(), nil
}

// Models lists the stored models, newest first, without their bodies.
func (s *Store) Models(ctx context.Context, limit int) ([]*registry.StoredModel, error) {
	var rows []modelRow
	err := s.read.WithContext(ctx).Raw(`SELECT version, created, note, state, type, records, applied, report FROM match_models ORDER BY version DESC LIMIT ?`, limit).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]*registry.StoredModel, len(rows))
	for i := range rows {
		out[i] = rows[i].model()
	}
	return out, nil
}

// MarkModel sets a model's state and report; with at set it records that
// the model was applied then.
func (s *Store) MarkModel(ctx context.Context, version int64, state string, at time.Time, report []byte) error {
	return s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		if err := t.flush(ctx); err != nil {
			return err
		}
		q := t.db.WithContext(ctx)
		var err error
		var n int64
		if at.IsZero() {
			r := q.Exec(`UPDATE match_models SET state = ?, report = ? WHERE version = ?`, state, report, version)
			err, n = r.Error, r.RowsAffected
		} else {
			r := q.Exec(`UPDATE match_models SET state = ?, report = ?, applied = ? WHERE version = ?`, state, report, at.UnixMicro(), version)
			err, n = r.Error, r.RowsAffected
		}
		if err == nil && n == 0 {
			err = registry.Errorf(registry.ENotFound, "no matching model version %d", version)
		}
		return err
	})
}
