package linkage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"idem/matching"
	"idem/registry"
)

// Calibrator is the matcher's self-calibration: it trains a model on the
// registry's own records (a candidate, never used for linking as it is),
// lists what re-matching under a candidate would change (a dry run),
// applies a candidate by re-matching, and rolls back to the model applied
// before. Training runs on demand, after a bulk load and whenever the
// stored records have grown by a share since the last model of their type.
type Calibrator struct {
	linker *Linker
	models *Models
	store  Store
	cfg    CalibrateConfig
	log    *slog.Logger
	mu     sync.Mutex // one training or apply at a time in this instance

	seenMu sync.Mutex
	seen   map[string]int // records of each type at the previous growth check
}

// CalibrateConfig configures self-calibration.
type CalibrateConfig struct {
	// AutoTrain trains after bulk loads and on growth (IDEM_MATCH_AUTOTRAIN).
	AutoTrain bool
	// AutoApply applies an automatically trained candidate at once
	// (IDEM_MATCH_AUTOAPPLY); otherwise a steward applies it.
	AutoApply bool
	// Growth is the share by which a type's records must grow since its
	// last model before it is trained again (IDEM_MATCH_RETRAIN_GROWTH).
	Growth float64
	// MinRecords is the least number of records of a type trained on
	// (default 200): fewer do not show its errors.
	MinRecords int
	// Sample is the most records read for training (default 20,000: the
	// first ones in stored order; EM needs pairs, and 20,000 records give
	// millions, while 200,000 decoded records held 1.5 GB during a load).
	Sample int
	// Train tunes the training itself.
	Train matching.TrainOptions
}

// NewCalibrator returns the calibration of linker's registry.
func NewCalibrator(linker *Linker, models *Models, cfg CalibrateConfig, log *slog.Logger) *Calibrator {
	if cfg.MinRecords <= 0 {
		cfg.MinRecords = 200
	}
	if cfg.Sample <= 0 {
		cfg.Sample = 20_000
	}
	if cfg.Growth <= 0 {
		cfg.Growth = 0.2
	}
	return &Calibrator{linker: linker, models: models, store: linker.store, cfg: cfg, log: log}
}

// ModelReport is what a stored model's report holds: how it was trained,
// and what its last dry run or apply changed.
type ModelReport struct {
	Training *matching.TrainReport `json:",omitempty"`
	Error    string                `json:",omitempty"` // why training failed
	Rematch  []RematchSummary      `json:",omitempty"`
	DryRun   bool                  `json:",omitempty"` // Rematch is a dry run's
}

// RematchSummary is a re-match of one type, with a sample of its changes.
type RematchSummary struct {
	Type         string
	ModelVersion string
	Records      int
	Changed      int
	Counts       map[string]int
	Samples      []ModelChange
	At           time.Time
}

// maxSamples bounds the changes kept in a model's report.
const maxSamples = 50

// Summarise is a re-match's summary, with its first changes as samples.
func Summarise(r *Rematch, at time.Time) RematchSummary {
	s := RematchSummary{Type: r.Type, ModelVersion: r.ModelVersion, Records: r.Records, Changed: r.Changed(), Counts: r.Counts, At: at}
	s.Samples = r.Changes[:min(len(r.Changes), maxSamples)]
	return s
}

// Train fits a model for typ to the stored records (from the model in use)
// and stores it as a candidate. Training that does not converge is stored
// as a failed model, with its report, and returned as an error.
func (c *Calibrator) Train(ctx context.Context, typ, note string) (*registry.StoredModel, error) {
	if !Matchable(typ) {
		return nil, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	recs, err := c.records(ctx, typ)
	if err != nil {
		return nil, err
	}
	return c.TrainOn(ctx, typ, note, recs)
}

// TrainOn is Train on records already read (at most Sample of the stored
// ones; "idem match train" reads them with a progress bar).
func (c *Calibrator) TrainOn(ctx context.Context, typ, note string, recs []*matching.Record) (*registry.StoredModel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	model, rep, err := matching.Train(c.models.Current(ctx), typ, recs, c.cfg.Train)
	if err == nil {
		err = rep.Failure()
		for _, r := range rep.Rules {
			if r.Rejected != "" {
				c.log.Warn("matching model training left a blocking rule out", "type", typ, "rule", r.Rule, "why", r.Rejected)
			}
		}
	}
	// Records is the registry's size now, the base growth is measured from
	// (due), not the sample trained on: a registry of 100,000 records
	// trained on 20,000 would be due again at once, and again after that.
	stored, cerr := c.store.CountResources(ctx, typ)
	if cerr != nil {
		return nil, cerr
	}
	sm := &registry.StoredModel{Created: c.linker.now(), Note: note, Type: typ, Records: max(len(recs), stored), State: registry.ModelCandidate}
	mr := ModelReport{Training: rep}
	if err != nil {
		sm.State, mr.Error = registry.ModelFailed, err.Error()
		sm.Body = []byte("{}")
	} else if sm.Body, err = model.MarshalJSON(); err != nil {
		return nil, err
	}
	sm.Report, _ = json.Marshal(mr)
	v, serr := c.store.SaveModel(ctx, sm)
	if serr != nil {
		return nil, serr
	}
	sm.Version = v
	if sm.State == registry.ModelFailed {
		c.log.Warn("matching model training failed; the model in use stays", "type", typ, "version", v, "err", mr.Error)
		return sm, registry.Errorf(registry.EUnprocessable, "training %s failed (stored as model %d): %s", typ, v, mr.Error)
	}
	c.log.Info("matching model trained: a candidate", "type", typ, "version", v, "records", len(recs),
		"iterations", rep.Iterations, "converged", rep.Converged)
	return sm, nil
}

// records reads up to Sample current records of typ (SampleRecords).
func (c *Calibrator) records(ctx context.Context, typ string) ([]*matching.Record, error) {
	return SampleRecords(ctx, c.store, typ, c.cfg.Sample, nil)
}

// SampleRecords reads up to n current records of typ, spread evenly over
// the order they were stored in (every k-th one): a registry loaded source
// after source gives a sample of every source, not of the first one only,
// whose pairs across sources are the ones training is for. It reads their
// compact features, not their bodies (a record stored without features is
// extracted from its body). progress, when set, hears how many are read.
func SampleRecords(ctx context.Context, store registry.MatchStore, typ string, n int, progress func(read int)) ([]*matching.Record, error) {
	total, err := store.CountResources(ctx, typ)
	if err != nil || total == 0 || n <= 0 {
		return nil, err
	}
	n = min(n, total)
	recs := make([]*matching.Record, 0, n)
	seen := 0 // the records of the pages read; the i-th sampled is the (i·total/n)-th
	err = storedPages(ctx, store, typ, func(page []registry.StoredRecord) (bool, error) {
		for _, r := range page {
			seen++
			if len(recs) == n || seen-1 != len(recs)*total/n {
				continue
			}
			rec, err := storedRecord(typ, r)
			if err != nil {
				return false, err
			}
			recs = append(recs, rec)
		}
		if progress != nil {
			progress(len(recs))
		}
		return len(recs) < n, nil
	})
	return recs, err
}

// storedRecord decodes a stored record's features, or extracts them from
// its body when it has none.
func storedRecord(typ string, r registry.StoredRecord) (*matching.Record, error) {
	if r.Record != nil {
		if rec, err := matching.DecodeRecord(r.Record); err == nil {
			return rec, nil
		}
	}
	body, err := registry.DecodeStored(r.Resource)
	if err != nil {
		return nil, err
	}
	return matching.Extract(typ, body), nil
}

// load returns a stored model, compiled.
func (c *Calibrator) load(ctx context.Context, version int64) (*registry.StoredModel, *matching.Model, error) {
	sm, err := c.store.Model(ctx, version)
	if err != nil {
		return nil, nil, err
	}
	if sm.State == registry.ModelFailed {
		return nil, nil, registry.Errorf(registry.EConflict, "model %d failed training and cannot be used", version)
	}
	m, err := matching.UnmarshalModel(sm.Body)
	if err != nil {
		return nil, nil, registry.Internal(fmt.Errorf("stored model %d: %w", version, err))
	}
	return sm, m, nil
}

// changedTypes returns the matchable types whose rules differ between
// two models: those a re-match must visit.
func changedTypes(a, b *matching.Model) []string {
	ra, rb := a.Rules(), b.Rules()
	var out []string
	for _, typ := range []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation} {
		ja, _ := json.Marshal(ra.Types[typ])
		jb, _ := json.Marshal(rb.Types[typ])
		if !bytes.Equal(ja, jb) {
			out = append(out, typ)
		}
	}
	return out
}

// DryRun lists what applying model version would change, per type it
// changes, and keeps the summary in the model's report. It holds no write
// transaction (simulate.go).
func (c *Calibrator) DryRun(ctx context.Context, version int64) ([]*Rematch, error) {
	return c.dryRun(ctx, version, nil)
}

func (c *Calibrator) dryRun(ctx context.Context, version int64, progress progressFunc) ([]*Rematch, error) {
	sm, model, err := c.load(ctx, version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Rematch
	for _, typ := range changedTypes(c.models.Current(ctx), model) {
		r, err := c.linker.PlanRematchProgress(ctx, typ, model, progress.stage("dry run: simulating "+typ))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	mr := c.report(sm)
	mr.Rematch, mr.DryRun = nil, true
	for _, r := range out {
		mr.Rematch = append(mr.Rematch, Summarise(r, c.linker.now()))
	}
	body, _ := json.Marshal(mr)
	return out, c.store.MarkModel(ctx, version, sm.State, time.Time{}, body)
}

func (c *Calibrator) report(sm *registry.StoredModel) ModelReport {
	var mr ModelReport
	if len(sm.Report) > 0 {
		_ = json.Unmarshal(sm.Report, &mr)
	}
	return mr
}

// Apply makes model version current and re-matches the types it changes
// (keeping every MANUAL link and NO_MATCH), as the actor of ctx; the apply
// is audited. It returns the re-matches it applied.
func (c *Calibrator) Apply(ctx context.Context, version int64) ([]*Rematch, error) {
	return c.apply(ctx, version, "model-apply")
}

// Rollback applies again the model applied before the current one.
func (c *Calibrator) Rollback(ctx context.Context) (int64, []*Rematch, error) {
	v, err := c.previous(ctx)
	if err != nil {
		return 0, nil, err
	}
	rs, err := c.apply(ctx, v, "model-rollback")
	return v, rs, err
}

// appliedModels returns the models ever applied, the last applied first.
func (c *Calibrator) appliedModels(ctx context.Context) ([]*registry.StoredModel, error) {
	list, err := c.store.Models(ctx, 1000)
	if err != nil {
		return nil, err
	}
	var applied []*registry.StoredModel
	for _, m := range list {
		if !m.Applied.IsZero() {
			applied = append(applied, m)
		}
	}
	slices.SortStableFunc(applied, func(a, b *registry.StoredModel) int { return b.Applied.Compare(a.Applied) })
	return applied, nil
}

func (c *Calibrator) apply(ctx context.Context, version int64, kind string) ([]*Rematch, error) {
	return c.runApply(ctx, &applyState{Version: version, Kind: kind}, nil, nil, "")
}

// applyState is an apply's progress as a job keeps it: the types to
// re-match and the time of the apply are fixed when it begins, so a
// resumed apply re-matches the same types (the model is in use by then:
// comparing it with itself would find none).
type applyState struct {
	Version int64     `json:"version"`
	Kind    string    `json:"kind"` // model-apply or model-rollback
	Begun   bool      `json:"begun,omitempty"`
	Types   []string  `json:"types,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Planned are the re-matches as first computed: the model's report
	// and the job's result, also when a resumed job has fewer left to do.
	Planned []RematchSummary `json:"planned"`
}

// runApply makes the model of st current and re-matches the types it
// changes: the model is in use before the re-match is computed, so a
// record written meanwhile is linked under it; each type's plan is
// simulated without the writer and its changes written 200 records per
// transaction, then the records stored meanwhile are re-matched one by one
// (catchUp). save, when set, stores st once begun (before the model is
// marked applied); auditID, when set, is the id of the apply's AuditEvent,
// written once.
func (c *Calibrator) runApply(ctx context.Context, st *applyState, save func() error, progress progressFunc, auditID string) ([]*Rematch, error) {
	sm, model, err := c.load(ctx, st.Version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.beginApply(ctx, st, save, model); err != nil {
		return nil, err
	}
	mr := c.report(sm)
	mr.Rematch, mr.DryRun = st.Planned, false
	if err := c.markApplied(ctx, st, mr, model); err != nil {
		return nil, err
	}
	plans, err := c.planApply(ctx, st, save, progress, model)
	if err != nil {
		return nil, err
	}
	mr.Rematch = st.Planned
	if err := c.markApplied(ctx, st, mr, model); err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("re-match under model %d (%s)", st.Version, model.Version)
	for _, r := range plans {
		if err := c.linker.ApplyRematchProgress(ctx, r, reason, progress.stage("apply: writing the changes of "+r.Type)); err != nil {
			return plans, err
		}
		if err := c.catchUp(ctx, r, progress.stage("apply: re-matching the "+r.Type+" records stored meanwhile")); err != nil {
			return plans, err
		}
	}
	c.log.Info("matching model applied", "version", st.Version, "model", model.Version, "kind", st.Kind)
	return plans, c.audit(ctx, st.Kind, st.Version, model, st.Planned, auditID)
}

// beginApply fixes, the first time, the types the apply re-matches and
// its time, and saves them before anything is changed.
func (c *Calibrator) beginApply(ctx context.Context, st *applyState, save func() error, model *matching.Model) error {
	if st.Begun {
		return nil
	}
	if err := c.keepInUse(ctx); err != nil {
		return err
	}
	st.Types, st.At, st.Begun = changedTypes(c.models.Current(ctx), model), c.linker.now(), true
	if save == nil {
		return nil
	}
	return save()
}

// planApply computes the re-match of each type of st under model (what is
// left to change, for a resumed apply) and, the first time, keeps their
// summaries in st.Planned.
func (c *Calibrator) planApply(ctx context.Context, st *applyState, save func() error, progress progressFunc, model *matching.Model) ([]*Rematch, error) {
	var plans []*Rematch
	for _, typ := range st.Types {
		r, err := c.linker.PlanRematchProgress(ctx, typ, model, progress.stage("apply: simulating "+typ))
		if err != nil {
			return nil, err
		}
		plans = append(plans, r)
	}
	if st.Planned != nil {
		return plans, nil
	}
	st.Planned = []RematchSummary{}
	for _, r := range plans {
		st.Planned = append(st.Planned, Summarise(r, st.At))
	}
	if save == nil {
		return plans, nil
	}
	return plans, save()
}

// markApplied marks the model of st applied at st.At with report mr and
// puts it in use.
func (c *Calibrator) markApplied(ctx context.Context, st *applyState, mr ModelReport, model *matching.Model) error {
	body, _ := json.Marshal(mr)
	if err := c.store.MarkModel(ctx, st.Version, registry.ModelApplied, st.At, body); err != nil {
		return err
	}
	c.models.use(model, st.Version)
	return nil
}

// keepInUse stores the model in use when no model has been applied yet
// (the configured rules, untrained), so the history can roll back to it.
func (c *Calibrator) keepInUse(ctx context.Context) error {
	_, err := c.store.CurrentModel(ctx)
	if registry.ErrorCode(err) != registry.ENotFound {
		return err
	}
	fb := c.models.Fallback()
	body, err := fb.MarshalJSON()
	if err != nil {
		return err
	}
	at := c.linker.now().Add(-time.Microsecond)
	_, err = c.store.SaveModel(ctx, &registry.StoredModel{Created: at, Applied: at, Note: "the configured rules, untrained", Body: body})
	return err
}

// audit records an apply or rollback as an AuditEvent through the system
// path, its agent the steward or job that asked for it.
// id, when set, is the AuditEvent's id: one already stored (a resumed
// job's) is not written again.
func (c *Calibrator) audit(ctx context.Context, kind string, version int64, model *matching.Model, rs []RematchSummary, id string) error {
	detail := map[string]string{"model": strconv.FormatInt(version, 10), "modelVersion": model.Version}
	for _, r := range rs {
		detail[r.Type+".changed"] = strconv.Itoa(r.Changed)
		for k, n := range r.Counts {
			detail[r.Type+"."+k] = strconv.Itoa(n)
		}
	}
	ev := registry.AuditEvent(registry.AuditRecord{Action: "E", Subtype: kind, Outcome: registry.AuditSuccess,
		Agent: registry.ActorFrom(ctx), Recorded: c.linker.now(), Detail: detail})
	if id == "" {
		id = c.linker.w.NewResourceID()
	}
	return c.linker.write0(ctx, func(ltx registry.Tx) error {
		if _, err := ltx.Read(ctx, registry.TypeAuditEvent, id); err == nil {
			return nil // written by this job before it was interrupted
		} else if registry.ErrorCode(err) != registry.ENotFound {
			return err
		}
		_, err := c.linker.w.Create(ctx, ltx, registry.TypeAuditEvent, id, ev)
		return err
	})
}

// History lists the stored models, newest first.
func (c *Calibrator) History(ctx context.Context) ([]*registry.StoredModel, error) {
	return c.store.Models(ctx, 100)
}

// Model returns one stored model with its report.
func (c *Calibrator) Model(ctx context.Context, version int64) (*registry.StoredModel, ModelReport, error) {
	sm, err := c.store.Model(ctx, version)
	if err != nil {
		return nil, ModelReport{}, err
	}
	return sm, c.report(sm), nil
}
