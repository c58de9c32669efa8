package linkage

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// BenchmarkCreateDuringDryRun measures a live create's latency (one linked
// Patient through the write pipeline) on a registry of a generated network
// (IDEM_BENCH_DRYRUN_PERSONS persons, default 1,000, about 2,600 Patients),
// idle, while dry runs of a trained candidate re-match every Patient back
// to back, and while the candidate is applied and rolled back in turn, on
// SQLite and PostgreSQL (IDEM_TEST_POSTGRES):
//
//	go test ./linkage -run '^$' -bench CreateDuringDryRun -benchtime 200x
//
// p50 and p99 are reported beside ns/op; runs is how many dry runs (or
// applies and rollbacks) finished meanwhile. With the simulation in a write transaction (before),
// a create on SQLite waited for the dry run's end.
func BenchmarkCreateDuringDryRun(b *testing.B) {
	for _, kind := range sqltest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			s, err := sqlstore.Open(context.Background(), sqltest.DSN(b, kind))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			models := NewModels(s, matching.DefaultRules(), time.Hour, quiet)
			m := NewMatcher(s, models, quiet)
			w := &registry.Writer{MatchIndex: m.Index}
			l := NewLinker(s, w, m, LinkerConfig{}, quiet)
			svc := &registry.Service{Store: s, Writer: w, Steps: registry.Steps{Link: l}}
			cal := NewCalibrator(l, models, CalibrateConfig{MinRecords: 50}, quiet)
			ctx := registry.WithActor(context.Background(), registry.SystemActor("bench"))
			n := benchLoad(b, ctx, svc, envInt("IDEM_BENCH_DRYRUN_PERSONS", 1000))
			cand, err := cal.Train(ctx, registry.TypePatient, "bench")
			if err != nil {
				b.Fatal(err)
			}
			_, model, err := cal.load(ctx, cand.Version)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := l.PlanRematch(ctx, registry.TypePatient, model); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d Patients; one dry run takes %v", n, time.Since(start).Round(time.Millisecond))
			b.Run("idle", func(b *testing.B) { benchCreates(b, ctx, svc, nil) })
			b.Run("during-dry-runs", func(b *testing.B) {
				benchCreates(b, ctx, svc, func(started func()) error {
					_, err := l.PlanRematchProgress(ctx, registry.TypePatient, model, func(int, int) error { started(); return nil })
					return err
				})
			})
			// Applies of the candidate and rollbacks, in turn: each simulates
			// the re-match, then writes its changes 200 records per
			// transaction and re-matches the records created meanwhile.
			applied := false
			b.Run("during-applies", func(b *testing.B) {
				benchCreates(b, ctx, svc, func(started func()) error {
					started()
					var err error
					if applied {
						_, _, err = cal.Rollback(ctx)
					} else {
						_, err = cal.Apply(ctx, cand.Version)
					}
					applied = !applied
					return err
				})
			})
		})
	}
}

// benchCreates measures b.N creates, with busy (when set) run again and
// again meanwhile; the creates start once busy has called started.
func benchCreates(b *testing.B, ctx context.Context, svc *registry.Service, busy func(started func()) error) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	runs := 0
	if busy != nil {
		var once sync.Once
		ready := make(chan struct{})
		started := func() { once.Do(func() { close(ready) }) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer started()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := busy(started); err != nil {
					b.Error(err)
					return
				}
				runs++
			}
		}()
		<-ready
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprintf("Benchlive%d", i), "given": []any{"Ann"}}},
			"birthDate": "1980-02-03", "gender": "female"}
		t0 := time.Now()
		if _, err := svc.Create(ctx, registry.TypePatient, res, ""); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if busy != nil {
		b.ReportMetric(float64(runs), "runs")
	}
}

// benchLoad stores a generated network's Patients through svc in
// transaction Bundles and returns how many.
func benchLoad(tb testing.TB, ctx context.Context, svc *registry.Service, persons int) int {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = 5, persons, 0, 0
	var entries []any
	n := 0
	flush := func() {
		if len(entries) == 0 {
			return
		}
		if _, err := svc.Bundle(ctx, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}, registry.BundleOptions{}); err != nil {
			tb.Fatal(err)
		}
		entries = nil
	}
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		n++
		entries = append(entries, map[string]any{"resource": clone(r.Resource), "request": map[string]any{"method": "POST", "url": "Patient"}})
		if len(entries) == 200 {
			flush()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	flush()
	return n
}

// envInt reads a positive integer setting of a benchmark, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
