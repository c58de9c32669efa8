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
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"idem/policy"
	"idem/registry"
	"idem/seed"
)

// BenchmarkImportHTTP is POST /fhir/$import as a deployment sees it:
// IDEM_BENCH_RECORDS (default 10,000) generated Patients from the
// network's three patient source systems, each system a client of its
// own posting its records as one NDJSON import, into a fresh idem with
// policy, linking and audit on. It reports records/s from the first
// kick-off to the last job done, and the peak RSS of the process.
//
//	IDEM_BENCH_RECORDS=100000 go test -run '^$' -bench ImportHTTP -benchtime 1x ./app/
//
// IDEM_BENCH_DSN=postgres://… runs it on that PostgreSQL database, which
// must be empty.
func BenchmarkImportHTTP(b *testing.B) {
	want := 10_000
	if s := os.Getenv("IDEM_BENCH_RECORDS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		cfg := DefaultConfig()
		// a third of 1,000,000 records is over 256 MB
		cfg.Addr, cfg.Seed, cfg.Rate, cfg.MaxBody = "127.0.0.1:0", false, 0, 1<<30
		// a PostgreSQL database, empty; else a new SQLite file
		cfg.DB = os.Getenv("IDEM_BENCH_DSN")
		if cfg.DB == "" {
			cfg.DB = filepath.Join(b.TempDir(), "import.db")
		}
		var logTo io.Writer = io.Discard
		if os.Getenv("IDEM_BENCH_LOG") != "" {
			logTo = os.Stderr // the server's log (IDEM_BENCH_LOG=1)
		}
		inst, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logTo, nil)))
		if err != nil {
			b.Fatal(err)
		}
		bodies, tokens := sourceNDJSON(b, inst.authz, want)
		stopHeap := heapAtPeak(os.Getenv("IDEM_BENCH_HEAP"))
		t0 := time.Now()
		var status []string
		for sys, body := range bodies {
			req, _ := http.NewRequest("POST", inst.URL()+"/fhir/$import", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/fhir+ndjson")
			req.Header.Set("Authorization", "Bearer "+tokens[sys])
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 202 {
				b.Fatalf("$import: %v %v", err, resp)
			}
			resp.Body.Close()
			status = append(status, resp.Header.Get("Content-Location"), tokens[sys])
		}
		samples := progressSamples(b, status)
		total := 0
		for j := 0; j < len(status); j += 2 {
			total += int(benchWait(b, status[j], status[j+1])["summary"].(map[string]any)["processed"].(float64))
		}
		elapsed := time.Since(t0)
		stopHeap()
		inst.Close()
		b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
		b.ReportMetric(lastOverFirst(samples, t0, elapsed, total), "last/first")
		b.ReportMetric(peakRSS(), "peak-RSS-MB")
	}
}

// sourceNDJSON registers one client per patient source system and returns
// about n generated Patients as one NDJSON body per system, each line with
// the system's own id of the record.
func sourceNDJSON(tb testing.TB, authz *policy.Authorizer, n int) (map[string][]byte, map[string]string) {
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
	cfg.Seed, cfg.Persons = 7, max(1, n*10/16)
	bodies := map[string][]byte{}
	count := 0
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient || count >= n || tokens[r.System] == "" {
			return nil
		}
		count++
		delete(r.Resource, "meta") // the line's id is the source's own id
		line, _ := json.Marshal(r.Resource)
		bodies[r.System] = append(append(bodies[r.System], line...), '\n')
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return bodies, tokens
}

func benchWait(tb testing.TB, url, token string) map[string]any {
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			var m map[string]any
			json.Unmarshal(body, &m)
			return m
		case 202:
			time.Sleep(500 * time.Millisecond)
		default:
			tb.Fatalf("status: %d %s", resp.StatusCode, body)
		}
	}
}

// progressSample is the number of lines the import jobs had written, at a
// moment.
type progressSample struct {
	at   time.Time
	done int
}

// progressSamples polls the jobs' X-Progress every 200 ms until every job
// answers 200, and returns the lines written over time.
func progressSamples(tb testing.TB, status []string) []progressSample {
	var out []progressSample
	for {
		done, running := 0, false
		for j := 0; j < len(status); j += 2 {
			req, _ := http.NewRequest("GET", status[j], nil)
			req.Header.Set("Authorization", "Bearer "+status[j+1])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			n, _ := strconv.Atoi(strings.Fields(resp.Header.Get("X-Progress") + " 0")[0])
			if resp.StatusCode == 202 {
				running = true
				done += n
			} else {
				done += jobProcessed(tb, status[j], status[j+1])
			}
		}
		out = append(out, progressSample{time.Now(), done})
		if !running {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobProcessed is a finished job's processed count.
func jobProcessed(tb testing.TB, url, token string) int {
	return int(benchWait(tb, url, token)["summary"].(map[string]any)["processed"].(float64))
}

// lastOverFirst is the rate of the last 10 % of the records (from the
// moment 90 % were written to the end, linking after a deferred load
// included) over the rate of the first 10 % (from the kick-off).
func lastOverFirst(samples []progressSample, t0 time.Time, elapsed time.Duration, n int) float64 {
	first, last := time.Duration(0), time.Duration(0)
	for _, s := range samples {
		if first == 0 && s.done >= n/10 {
			first = s.at.Sub(t0)
		}
		if last == 0 && s.done >= n*9/10 {
			last = elapsed - s.at.Sub(t0)
		}
	}
	if first <= 0 || last <= 0 {
		return 0
	}
	return first.Seconds() / last.Seconds()
}

// heapAtPeak, given a file name, writes the heap profile there each time
// the process's peak RSS has grown by 64 MB since the last one (checked
// every 250 ms), so the file ends up holding the heap near the peak; the
// returned function stops it.
func heapAtPeak(path string) func() {
	if path == "" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := 0.0
		for {
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if p := peakRSS(); p > last+64 {
				last = p
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
