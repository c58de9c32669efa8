package linkage

import (
	"context"
	"sync"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// TestFirstLoadLinkedOnceAcrossInstances checks that two instances on one
// database whose loads end at the same moment link the load once: one
// training, every record in one golden record. Before the calibration
// lease each instance trained and re-matched the whole type under its
// own model.
func TestFirstLoadLinkedOnceAcrossInstances(t *testing.T) {
	recs, _ := generatedPatients(t, 150, "")
	sqltest.ForEach(t, func(t *testing.T, dsn string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		cfg := CalibrateConfig{AutoTrain: true, AutoApply: true}
		a := openCalibrated(t, s, cfg)
		b := openCalibrated(t, sqltest.Open(t, dsn), cfg)
		unlinked := &registry.Service{Store: s, Writer: a.svc.Writer, Steps: registry.Steps{Link: a.l.Deferred()}}
		for _, r := range recs {
			if _, err := unlinked.Create(ctx, registry.TypePatient, clone(r), ""); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, inst := range []*calibrated{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = inst.cal.Loaded(ctx, []string{registry.TypePatient}, true)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		models, err := s.Models(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		trained := 0
		for _, m := range models {
			if m.Type == registry.TypePatient {
				trained++
			}
		}
		if trained != 1 {
			t.Fatalf("%d models trained by two instances' loads ending together, want 1", trained)
		}
		match, _ := goldenOf(t, s)
		if len(match) != len(recs) || len(match) < 200 {
			t.Fatalf("%d of %d records linked", len(match), len(recs))
		}
		persons := map[string]bool{}
		for _, g := range match {
			persons[g] = true
		}
		page, err := s.QueryLinks(ctx, registry.LinkFilter{MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Links) != len(recs) {
			t.Fatalf("%d MATCH links for %d records", len(page.Links), len(recs))
		}
		n, err := s.CountResources(ctx, registry.TypePerson)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(persons) {
			t.Fatalf("%d Persons stored, %d with records: a second linking left golden records of its own", n, len(persons))
		}
	})
}

// TestCalibrationLeaseExpires checks that a lease whose holder stopped
// renewing it (its process died) is taken once it expires, and not before.
func TestCalibrationLeaseExpires(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, dsn string, s *sqlstore.Store) {
		ctx := context.Background()
		if won, err := s.TryLease(ctx, calibrationLease, "dead", time.Now(), 400*time.Millisecond); err != nil || !won {
			t.Fatalf("first holder: %v, %v", won, err)
		}
		c := openCalibrated(t, sqltest.Open(t, dsn), CalibrateConfig{})
		start := time.Now()
		release, err := c.cal.hold(ctx, calibrationLease)
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 300*time.Millisecond {
			t.Fatalf("held after %v, before the dead holder's lease expired", waited)
		}
		if won, err := s.TryLease(ctx, calibrationLease, "other", time.Now(), time.Minute); err != nil || won {
			t.Fatalf("another holder while it is held: %v, %v", won, err)
		}
		release()
		if won, err := s.TryLease(ctx, calibrationLease, "other", time.Now(), time.Minute); err != nil || !won {
			t.Fatalf("another holder once released: %v, %v", won, err)
		}
	})
}
