package linkage

import (
	"context"
	"errors"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

// BenchmarkMatch runs Patient $match against a loaded database named by
// IDEM_BENCH_DB (e.g. the 1,000,000-Patient file the sqlstore benchmarks
// build, re-keyed with "idem match reindex"). Each query is a stored Patient
// with a typo in its family name; found is the share of queries whose
// source record is among the results (recall at this size).
func BenchmarkMatch(b *testing.B) {
	ctx := context.Background()
	_, m, res := benchDB(b, "-_lastUpdated")
	queries := make([]map[string]any, len(res.Matches))
	want := make([]string, len(res.Matches))
	for i, r := range res.Matches {
		want[i] = r.ID
		q, _ := registry.DecodeStored(r)
		transposeFamily(q)
		delete(q, "id")
		queries[i] = q
	}
	// A running server has its term-frequency and count caches warm: one
	// pass over the queries first, so the figures are the steady state.
	for _, q := range queries {
		if _, err := m.Match(ctx, "Patient", q, MatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	var next, found, scored atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			t0 := time.Now()
			out, err := m.Match(ctx, "Patient", queries[i%len(queries)], MatchOptions{})
			lat[i] = time.Since(t0)
			if err != nil {
				b.Error(err)
				return
			}
			scored.Add(int64(out.Scored))
			if slices.ContainsFunc(out.Candidates, func(c Candidate) bool { return c.Resource.ID == want[i%len(want)] }) {
				found.Add(1)
			}
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(found.Load())/float64(b.N), "found")
	b.ReportMetric(float64(scored.Load())/float64(b.N), "candidates")
}

// transposeFamily swaps two letters of the first family name, if any.
func transposeFamily(res map[string]any) {
	names, _ := res["name"].([]any)
	if len(names) == 0 {
		return
	}
	name, _ := names[0].(map[string]any)
	fam, _ := name["family"].(string)
	if b := []byte(fam); len(b) >= 3 {
		b[1], b[2] = b[2], b[1]
		name["family"] = string(b)
	}
}

// BenchmarkCreateLinked creates Patients in the database named by
// IDEM_BENCH_DB, one request at a time, with linking on write (each is a
// stored Patient with a typo, from a new source), and reports the latency
// of the create; BenchmarkCreateUnlinked is the same without the linker,
// so the difference is what linking adds. Both write to the database.
func BenchmarkCreateLinked(b *testing.B)   { benchCreate(b, true) }
func BenchmarkCreateUnlinked(b *testing.B) { benchCreate(b, false) }

func benchCreate(b *testing.B, link bool) {
	ctx := context.Background()
	s, m, res := benchDB(b, "_lastUpdated")
	w := &registry.Writer{MatchIndex: m.Index}
	svc := &registry.Service{Store: s, Writer: w}
	if link {
		svc.Link = NewLinker(s, w, m, LinkerConfig{}, quiet)
	}
	bodies := make([][]byte, len(res.Matches))
	for i, r := range res.Matches {
		bodies[i] = r.Body
	}
	for _, body := range bodies[:100] { // warm the caches, as a running server has them
		q, _ := fhir.DecodeJSON(body)
		transposeFamily(q)
		delete(q, "id")
		if _, err := m.Match(ctx, "Patient", q, MatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, _ := fhir.DecodeJSON(bodies[i%len(bodies)])
		transposeFamily(q)
		delete(q, "id")
		q["meta"] = map[string]any{"source": "http://bench.example/fhir/Patient/" + strconv.Itoa(i)}
		t0 := time.Now()
		if _, err := svc.Create(ctx, "Patient", q, ""); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// benchDB opens the database IDEM_BENCH_DB names (skipping without one),
// with a matcher, and returns 1,000 stored Patients in sort order. With
// IDEM_BENCH_PATIENTS set and no "<file>.done" beside it, it first fills
// the file (fillBenchDB).
func benchDB(b *testing.B, sort string) (*sqlstore.Store, *Matcher, *registry.SearchResult) {
	path := os.Getenv("IDEM_BENCH_DB")
	if path == "" {
		b.Skip("IDEM_BENCH_DB is not set")
	}
	if n := benchPatients(); n > 0 {
		if _, err := os.Stat(path + ".done"); err != nil { // made once, then reused
			fillBenchDB(b, path, n)
			if err := os.WriteFile(path+".done", nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	m := NewMatcher(s, NewModels(s, matching.DefaultRules(), time.Hour, quiet), quiet)
	_, res, err := (&registry.Service{Store: s}).Search(ctx, "Patient", url.Values{"_count": {"1000"}, "_sort": {sort}}, true)
	if err != nil {
		b.Fatal(err)
	}
	return s, m, res
}

// BenchmarkRematch re-matches the Patients of the database IDEM_BENCH_DB
// names as $mdm-submit's job does (Linker.rematch: pages of 200 in
// _lastUpdated order, each record matched again and its AUTO links
// changed in a transaction of its own), stopping after the page that
// reaches IDEM_BENCH_RECORDS records (default 10,000; 0: all). It reports
// the rate, the records whose links changed, and the minutes all the
// Patients would take at that rate (extrapolated unless all were done).
// It writes to the database: IDEM_BENCH_CRITERIA, a search (such as
// _lastUpdated=gt2026-12-07T16:30:00Z), picks records not re-matched yet.
//
//	IDEM_BENCH_DB=idem.db IDEM_BENCH_RECORDS=20000 go test -run '^$' -bench Rematch -benchtime 1x ./linkage/
func BenchmarkRematch(b *testing.B) {
	limit := int64(10_000)
	if v, err := strconv.Atoi(os.Getenv("IDEM_BENCH_RECORDS")); err == nil {
		limit = int64(v)
	}
	criteria, err := url.ParseQuery(os.Getenv("IDEM_BENCH_CRITERIA"))
	if err != nil {
		b.Fatal(err)
	}
	s, m, _ := benchDB(b, "_lastUpdated")
	l := NewLinker(s, &registry.Writer{MatchIndex: m.Index}, m, LinkerConfig{}, quiet)
	ctx := registry.WithActor(context.Background(), registry.SystemActor("bench"))
	all, err := s.CountResources(ctx, registry.TypePatient)
	if err != nil {
		b.Fatal(err)
	}
	stop := errors.New("enough")
	for i := 0; i < b.N; i++ {
		j := &Job{Type: registry.TypePatient, Started: time.Now()}
		j.page = func(string) error {
			if limit > 0 && j.done.Load() >= limit {
				return stop
			}
			return nil
		}
		t0 := time.Now()
		if err := l.rematch(ctx, j, criteria); err != nil && !errors.Is(err, stop) {
			b.Fatal(err)
		}
		elapsed := time.Since(t0)
		st := j.Status()
		rate := float64(st.Done) / elapsed.Seconds()
		b.ReportMetric(rate, "records/s")
		b.ReportMetric(float64(st.Done), "records")
		b.ReportMetric(float64(st.Changed), "changed")
		b.ReportMetric(float64(all)/rate/60, "min-for-all")
	}
}

// BenchmarkPlanRematch simulates the re-match of every Patient of the
// database IDEM_BENCH_DB names under the model in use (the dry run of a
// model apply, and the first half of linking a calibrated first load),
// writing nothing, and reports the records simulated per second.
//
//	IDEM_BENCH_DB=idem.db go test -run '^$' -bench PlanRematch -benchtime 1x ./linkage/
func BenchmarkPlanRematch(b *testing.B) {
	s, m, _ := benchDB(b, "_lastUpdated")
	l := NewLinker(s, &registry.Writer{MatchIndex: m.Index}, m, LinkerConfig{}, quiet)
	ctx := registry.WithActor(context.Background(), registry.SystemActor("bench"))
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := l.PlanRematch(ctx, registry.TypePatient, m.models.Current(ctx))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Records)/time.Since(t0).Seconds(), "records/s")
		b.ReportMetric(float64(r.Changed()), "changed")
	}
}
