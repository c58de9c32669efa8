package linkage

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/seed"
)

// BenchmarkLinkedIngest loads IDEM_BENCH_RECORDS (default 10,000)
// generated Patients from three source systems, duplicates included,
// through transaction Bundles of 1,000 with linking on, into a fresh
// database (IDEM_BENCH_DSN, or a SQLite file in a temporary directory). It
// reports the overall rate, the rate of the first and the last 10 % of the
// Bundles, their ratio, and the peak RSS. IDEM_BENCH_AUDIT=1 adds the
// audit step. Run it once:
//
//	IDEM_BENCH_RECORDS=100000 go test -run '^$' -bench LinkedIngest -benchtime 1x ./linkage/
func BenchmarkLinkedIngest(b *testing.B) {
	want := 10_000
	if s := os.Getenv("IDEM_BENCH_RECORDS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	bundles := ingestBundles(b, want)
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		dsn := os.Getenv("IDEM_BENCH_DSN")
		if dsn == "" {
			dsn = filepath.Join(b.TempDir(), "ingest.db")
		}
		s, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		svc := newLinkedService(s)
		rates := make([]float64, len(bundles))
		t0 := time.Now()
		total := 0
		ctx = registry.WithActor(ctx, registry.SystemActor("bench"))
		for j, bundle := range bundles {
			n := len(bundle["entry"].([]any))
			t := time.Now()
			if _, err := svc.Bundle(ctx, bundle, registry.BundleOptions{}); err != nil {
				b.Fatal(err)
			}
			rates[j] = float64(n) / time.Since(t).Seconds()
			total += n
		}
		elapsed := time.Since(t0)
		s.Close()
		tenth := max(1, len(rates)/10)
		first, last := mean(rates[:tenth]), mean(rates[len(rates)-tenth:])
		b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
		b.ReportMetric(first, "first10%-rec/s")
		b.ReportMetric(last, "last10%-rec/s")
		b.ReportMetric(last/first, "last/first")
		b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
	}
}

// newLinkedService is the registry service with linking on write, as
// app wires it (without policy and audit).
func newLinkedService(s *sqlstore.Store) *registry.Service {
	m := NewMatcher(s, NewModels(s, matching.DefaultRules(), time.Hour, quiet), quiet)
	w := &registry.Writer{MatchIndex: m.Index}
	steps := registry.Steps{Link: NewLinker(s, w, m, LinkerConfig{}, quiet)}
	if os.Getenv("IDEM_BENCH_AUDIT") != "" {
		steps.Audit = registry.NewAuditor(s, w, "bench")
	}
	return &registry.Service{Store: s, Writer: w, Steps: steps}
}

// ingestBundles generates about n Patients (three systems, duplicates)
// as transaction Bundles of 1,000 POSTs.
func ingestBundles(tb testing.TB, n int) []map[string]any {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons = 7, max(1, n*10/16) // about 1.6 records per person
	var bundles []map[string]any
	var entries []any
	count := 0
	flush := func() {
		if len(entries) > 0 {
			bundles = append(bundles, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
			entries = nil
		}
	}
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient || count >= n {
			return nil
		}
		count++
		entries = append(entries, map[string]any{"resource": r.Resource, "request": map[string]any{"method": "POST", "url": r.Type}})
		if len(entries) == 1000 {
			flush()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	flush()
	return bundles
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// peakRSSMB reads the process's peak resident set size (Linux).
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
