package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"idem/policy"
	"idem/registry"
	"idem/seed"
)

// BenchmarkLinkedIngestHTTP is linked ingest as a deployment sees it:
// IDEM_BENCH_RECORDS (default 10,000) generated Patients, duplicates
// included, from the network's three patient source systems, each system a
// client of its own with its identifier domain, posted as transaction
// Bundles of 1,000 over HTTP, one at a time, to a fresh idem with policy,
// linking and audit on (a SQLite file, or IDEM_BENCH_DSN). It reports the
// rate overall and of the first and last 10 % of the Bundles, and the peak
// RSS of the process (server and client). Run it once:
//
//	IDEM_BENCH_RECORDS=100000 go test -run '^$' -bench LinkedIngestHTTP -benchtime 1x ./app/
func BenchmarkLinkedIngestHTTP(b *testing.B) {
	want := 10_000
	if s := os.Getenv("IDEM_BENCH_RECORDS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		cfg := DefaultConfig()
		cfg.Addr, cfg.Seed, cfg.Rate, cfg.MaxBody = "127.0.0.1:0", false, 0, 64<<20
		cfg.DB = os.Getenv("IDEM_BENCH_DSN")
		if cfg.DB == "" {
			cfg.DB = filepath.Join(b.TempDir(), "ingest.db")
		}
		logTo := io.Discard
		if os.Getenv("IDEM_BENCH_LOG") != "" {
			logTo = os.Stderr
		}
		inst, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			b.Fatal(err)
		}
		// Bundles are generated while the previous one loads, so the
		// process holds two at most (one per client more with several
		// clients): its peak RSS is the server's.
		var bundles []sourceBundle
		var rates, done []float64
		total := 0
		cpu0, io0 := processCPU(), writtenBytes()
		t0 := time.Now()
		prof := os.Getenv("IDEM_BENCH_PROFILE") // profile the first three Bundles and the last tenth into PREFIX-first.prof, PREFIX-last.prof, the heap at the end into PREFIX-heap.prof
		// IDEM_BENCH_CLIENTS source clients post at once, as a network's
		// systems do (default 1: one Bundle at a time).
		clients := 1
		if s := os.Getenv("IDEM_BENCH_CLIENTS"); s != "" {
			clients, _ = strconv.Atoi(s)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		src := sourceBundles(b, inst.authz, want)
		for c := 0; c < max(1, clients); c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sb := range src {
					mu.Lock()
					j := len(bundles) + clients - 1 // Bundles started, this one included
					if prof != "" && clients == 1 && (j == 0 || total == want*9/10/1000*1000) {
						startProfile(b, prof, j == 0)
					}
					mu.Unlock()
					t := time.Now()
					postBundle(b, inst.URL()+"/fhir", sb)
					mu.Lock()
					sb.body = nil
					bundles, rates = append(bundles, sb), append(rates, float64(sb.n)/time.Since(t).Seconds())
					done = append(done, time.Since(t0).Seconds())
					total += sb.n
					if prof != "" && (clients == 1 && len(bundles) == 3) {
						pprof.StopCPUProfile()
					}
					if prof != "" && clients > 1 && (len(bundles) == 1 || total == want*9/10/1000*1000) {
						// With several clients, the first profile covers the
						// first Bundles up to the third done, the last one
						// from nine tenths done to the end.
						startProfile(b, prof, len(bundles) == 1)
					}
					if prof != "" && clients > 1 && len(bundles) == 3 {
						pprof.StopCPUProfile()
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if prof != "" {
			pprof.StopCPUProfile()
		}
		elapsed := time.Since(t0)
		cpu, written := processCPU()-cpu0, writtenBytes()-io0
		if prof != "" {
			// What the process holds at the end of the load, for its RSS.
			if f, err := os.Create(prof + "-heap.prof"); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		// What the resident memory is: anonymous (Go's heap, SQLite's page
		// caches) or file pages (SQLite's memory-mapped reads).
		if st, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "RssFile") {
					b.Log(strings.Join(strings.Fields(l), " "))
				}
			}
		}
		// Of the anonymous memory, what Go's runtime holds: the heap's
		// live objects, the heap it keeps mapped, and all it has mapped;
		// the rest is C's (SQLite's page caches and malloc arenas).
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.Logf("Go: heap in use %d MB, heap mapped and not returned %d MB, runtime total %d MB, GC cycles %d",
			ms.HeapInuse>>20, (ms.HeapSys-ms.HeapReleased)>>20, (ms.Sys-ms.HeapReleased)>>20, ms.NumGC)
		inst.Close()
		for j, r := range rates {
			b.Logf("bundle %d: %d records, %.0f records/s", j, bundles[j].n, r)
		}
		first, last := tenthRate(bundles, rates, false), tenthRate(bundles, rates, true)
		if clients > 1 {
			// Bundles overlap: a tenth's rate is its records over the time
			// in which they were done.
			first, last = doneRate(bundles, done, false), doneRate(bundles, done, true)
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
		b.ReportMetric(first, "first10%-rec/s")
		b.ReportMetric(last, "last10%-rec/s")
		b.ReportMetric(last/first, "last/first")
		b.ReportMetric(peakRSS(), "peak-RSS-MB")
		// CPU time per record of the whole process (server and client;
		// not PostgreSQL's): steadier than rates on a shared machine.
		b.ReportMetric(cpu.Seconds()*1000/float64(total), "cpu-ms/record")
		// Bytes the process wrote to the disk per record (SQLite's WAL and
		// checkpoints; not PostgreSQL's): what random index inserts cost as
		// the registry outgrows the page cache.
		b.ReportMetric(float64(written)/1024/float64(total), "disk-KB/record")
	}
}

// sourceBundle is one transaction Bundle of one source system, as JSON.
type sourceBundle struct {
	token string
	body  []byte
	n     int
}

// sourceBundles registers one client per patient source system and
// generates about n Patients as their Bundles of 1,000, the systems taking
// turns, into the channel it returns.
func sourceBundles(tb testing.TB, authz *policy.Authorizer, n int) <-chan sourceBundle {
	tokens := map[string]string{}
	for i, sys := range seed.Systems() {
		domain, ok := sys.Identifiers[registry.TypePatient]
		if !ok {
			continue
		}
		tok, err := authz.AddClient(context.Background(), policy.Client{Name: fmt.Sprintf("source-%d", i), System: sys.URI,
			Roles: []string{"source"}, Domains: []string{domain}})
		if err != nil {
			tb.Fatal(err)
		}
		tokens[sys.URI] = tok
	}
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons = 7, max(1, n*10/16) // about 1.6 records per person
	pending := map[string][]any{}
	out := make(chan sourceBundle, 1)
	flush := func(sys string) {
		body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": pending[sys]})
		out <- sourceBundle{token: tokens[sys], body: body, n: len(pending[sys])}
		pending[sys] = nil
	}
	count := 0
	go func() {
		defer close(out)
		err := seed.Generate(cfg, func(r seed.Record) error {
			if r.Type != registry.TypePatient || count >= n || tokens[r.System] == "" {
				return nil
			}
			count++
			pending[r.System] = append(pending[r.System], map[string]any{"resource": r.Resource, "request": map[string]any{"method": "POST", "url": r.Type}})
			if len(pending[r.System]) == 1000 {
				flush(r.System)
			}
			return nil
		})
		if err != nil {
			tb.Error(err)
		}
		for sys := range pending {
			if len(pending[sys]) > 0 {
				flush(sys)
			}
		}
	}()
	return out
}

func startProfile(tb testing.TB, prefix string, first bool) {
	name := prefix + "-last.prof"
	if first {
		name = prefix + "-first.prof"
	}
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
}

func postBundle(tb testing.TB, base string, sb sourceBundle) {
	req, _ := http.NewRequest("POST", base, bytes.NewReader(sb.body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+sb.token)
	req.Header.Set("Prefer", "return=minimal")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("transaction: %d %.500s", resp.StatusCode, body)
	}
}

// tenthRate is the ingest rate over the first (or last) tenth of the
// records, in whole Bundles, weighted by their sizes.
func tenthRate(bundles []sourceBundle, rates []float64, last bool) float64 {
	total := 0
	for _, sb := range bundles {
		total += sb.n
	}
	n, secs := 0, 0.0
	for k := range bundles {
		j := k
		if last {
			j = len(bundles) - 1 - k
		}
		n += bundles[j].n
		secs += float64(bundles[j].n) / rates[j]
		if n*10 >= total {
			break
		}
	}
	return float64(n) / secs
}

// doneRate is the ingest rate over the first (or last) tenth of the
// records when Bundles overlap: the records of the Bundles done first (or
// last) over the time from the start (or from the Bundle done before
// them) to the last of them done; done[i] is when Bundle i was done, in
// seconds from the start, in order.
func doneRate(bundles []sourceBundle, done []float64, last bool) float64 {
	total := 0
	for _, sb := range bundles {
		total += sb.n
	}
	n := 0
	if !last {
		for i, sb := range bundles {
			if n += sb.n; n*10 >= total {
				return float64(n) / done[i]
			}
		}
		return 0
	}
	for i := len(bundles) - 1; i > 0; i-- {
		if n += bundles[i].n; n*10 >= total {
			return float64(n) / (done[len(done)-1] - done[i-1])
		}
	}
	return 0
}

// peakRSS reads the process's peak resident set size in MB (Linux).
func peakRSS() float64 {
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

// writtenBytes returns the bytes the process has caused to be written to
// storage (/proc/self/io write_bytes), 0 where that is not available.
func writtenBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return n
		}
	}
	return 0
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
