package linkage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"idem/registry"
)

// The automatic triggers of self-calibration (CalibrateConfig.AutoTrain):
// after a bulk load, and whenever a type's stored records have grown by
// Growth since its last model and stopped growing fast (settled), checked
// by Watch with a count per type (never a scan) off the write path.

// autoTypes are the types trained automatically: every matchable type.
// Locations joined them once training them was sound (matching.Train
// leaves out a blocking rule whose EM did not converge or fitted another
// class than the matches, and the pairs sharing a name word no longer
// estimate the address and type their names spell); a training that is not
// sound is stored as failed, saying why, and never applied.
var autoTypes = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}

// lastTrained returns the number of records of typ the newest model
// trained for it saw (failed trainings count: their data was seen), or -1
// when none was trained.
func (c *Calibrator) lastTrained(ctx context.Context, typ string) (int, error) {
	list, err := c.store.Models(ctx, 100)
	if err != nil {
		return 0, err
	}
	for _, m := range list {
		if m.Type == typ {
			return m.Records, nil
		}
	}
	return -1, nil
}

// due reports whether typ, with n records stored, should be trained: it
// never was and has MinRecords, or it has grown by Growth since.
func (c *Calibrator) due(ctx context.Context, typ string, n int) (bool, error) {
	if n < c.cfg.MinRecords {
		return false, nil
	}
	last, err := c.lastTrained(ctx, typ)
	if err != nil || last < 0 {
		return last < 0, err
	}
	return float64(n) >= float64(last)*(1+c.cfg.Growth), nil
}

// CheckGrowth trains every type that is due (see due), and applies the
// candidate when AutoApply is set. It returns the versions trained.
func (c *Calibrator) CheckGrowth(ctx context.Context) ([]int64, error) {
	if !c.cfg.AutoTrain {
		return nil, nil
	}
	var trained []int64
	for _, typ := range autoTypes {
		n, err := c.store.CountResources(ctx, typ)
		if err != nil {
			return trained, err
		}
		due, err := c.due(ctx, typ, n)
		if err != nil || !due || !c.settled(typ, n) {
			if err != nil {
				return trained, err
			}
			continue
		}
		v, err := c.trainOnGrowth(ctx, typ, n)
		if err != nil {
			c.log.Warn("automatic training", "type", typ, "err", err)
			continue
		}
		if v != 0 {
			trained = append(trained, v)
		}
	}
	return trained, nil
}

// settled reports whether typ's records, n now, grew by at most 1 % since
// the previous check, and remembers n. While a load streams records in,
// training waits for it to end: a training competes with the load for the
// same cores (41 % of the CPU of the last tenth of a 20,000-record load
// went to retraining as the registry grew), and the load's end is when the
// model would be trained anyway. A registry growing by a trickle counts as
// settled.
func (c *Calibrator) settled(typ string, n int) bool {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	prev, ok := c.seen[typ]
	c.seen[typ] = n
	return ok && n-prev <= n/100
}

// trainOnGrowth trains typ, due with n records, holding the calibration
// lease; it trains nothing (0) when another holder trained it meanwhile.
func (c *Calibrator) trainOnGrowth(ctx context.Context, typ string, n int) (int64, error) {
	release, err := c.hold(ctx, calibrationLease)
	if err != nil {
		return 0, err
	}
	defer release()
	if due, err := c.due(ctx, typ, n); err != nil || !due {
		return 0, err
	}
	return c.trainAndMaybeApply(ctx, typ, fmt.Sprintf("automatic: %d %s records stored", n, typ), c.cfg.AutoApply)
}

// trainAndMaybeApply trains typ and applies the candidate when apply is set.
func (c *Calibrator) trainAndMaybeApply(ctx context.Context, typ, note string, apply bool) (int64, error) {
	sm, err := c.Train(ctx, typ, note)
	if err != nil {
		return 0, err
	}
	if apply {
		if _, err := c.Apply(ctx, sm.Version); err != nil {
			return sm.Version, err
		}
	}
	return sm.Version, nil
}

// Watch checks for growth every interval until ctx ends.
func (c *Calibrator) Watch(ctx context.Context, every time.Duration) {
	ctx = registry.WithActor(ctx, registry.SystemActor("idem calibration"))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := c.CheckGrowth(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("matching model growth check", "err", err)
		}
	}
}

// DeferLinking reports whether a bulk load of lines records should store
// them unlinked, to be linked once a model is trained on them (the
// calibrated first load): automatic training is on, and the model in use is
// the configured rules' untrained one, or the load alone grows the
// registry by more than Growth.
func (c *Calibrator) DeferLinking(ctx context.Context, lines int) (bool, error) {
	if !c.cfg.AutoTrain || lines < c.cfg.MinRecords {
		return false, nil
	}
	if _, err := c.store.CurrentModel(ctx); registry.ErrorCode(err) == registry.ENotFound {
		return true, nil
	} else if err != nil {
		return false, err
	}
	stored := 0
	for _, typ := range []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation} {
		n, err := c.store.CountResources(ctx, typ)
		if err != nil {
			return false, err
		}
		stored += n
	}
	return float64(lines) > float64(stored)*c.cfg.Growth, nil
}

// Loaded is told that a bulk load of types finished. With deferred (its
// records were stored unlinked) each type that is due (never trained, or
// grown by Growth since its model) is trained and the registry re-matched
// under the new model (the calibrated first load); the records still
// unlinked after that — of a type not due, too small to train on, or whose
// training failed — are linked under the model in use, the others kept as
// they are. Several loads ending one after another (sources imported
// together) so train and re-match once: the next ones find their type
// trained and only link what is left. Otherwise the types that are due are
// trained, and applied when AutoApply is set.
func (c *Calibrator) Loaded(ctx context.Context, types []string, deferred bool) error {
	if !deferred {
		if !c.cfg.AutoTrain {
			return nil
		}
		_, err := c.CheckGrowth(ctx)
		return err
	}
	// One load's linking at a time, here and in any instance sharing the
	// database: the next sees the model it trained.
	release, err := c.hold(ctx, calibrationLease)
	if err != nil {
		return err
	}
	defer release()
	for _, typ := range types {
		if !Matchable(typ) {
			continue
		}
		n, err := c.store.CountResources(ctx, typ)
		if err != nil {
			return err
		}
		due := false
		if slices.Contains(autoTypes, typ) {
			if due, err = c.due(ctx, typ, n); err != nil {
				return err
			}
		}
		if due {
			v, err := c.trainAndMaybeApply(ctx, typ, "calibrated first load of "+typ, true)
			if err == nil {
				c.log.Info("calibrated load: records linked under their own model", "type", typ, "version", v)
				continue
			}
			c.log.Warn("calibrated load: training failed, linking under the model in use", "type", typ, "err", err)
		}
		if err := c.LinkUnlinked(ctx, typ); err != nil {
			return err
		}
	}
	return nil
}

// LinkAll re-matches typ under the model in use (every record, linked or
// not).
func (c *Calibrator) LinkAll(ctx context.Context, typ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	model := c.models.Current(ctx)
	r, err := c.linker.PlanRematch(ctx, typ, model)
	if err != nil {
		return err
	}
	return c.linker.ApplyRematch(ctx, r, "records loaded unlinked, linked under the model in use")
}

// LinkUnlinked links the records of typ stored unlinked under the model in
// use, leaving the others' links as they are (PlanLinkUnlinked).
func (c *Calibrator) LinkUnlinked(ctx context.Context, typ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	model := c.models.Current(ctx)
	r, err := c.linker.PlanLinkUnlinked(ctx, typ, model)
	if err != nil || r.Records == 0 {
		return err
	}
	c.log.Info("records loaded unlinked: linked under the model in use", "type", typ, "records", r.Records, "changed", r.Changed())
	return c.linker.ApplyRematch(ctx, r, "records loaded unlinked, linked under the model in use")
}

// Deferred returns the pipeline's resolve and link steps for a bulk load
// whose linking waits for calibration: references are resolved, records
// stored unlinked (Loaded links them).
func (l *Linker) Deferred() registry.Linker { return deferredLinker{l} }

type deferredLinker struct{ l *Linker }

func (d deferredLinker) Resolve(ctx context.Context, tx registry.Tx, w *registry.Write) error {
	return d.l.Resolve(ctx, tx, w)
}

func (d deferredLinker) Link(context.Context, registry.Tx, *registry.Write, *registry.Outcome) error {
	return nil
}

// Prepare has nothing to read ahead: the records are not linked now.
func (deferredLinker) Prepare(ctx context.Context, _ registry.Tx, _ []*registry.Write) (context.Context, error) {
	return ctx, nil
}

// Settle has no golden record to rebuild.
func (deferredLinker) Settle(context.Context, registry.Tx) error { return nil }
