package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/seed"
)

// BenchmarkExportScale measures Bulk Data $export end to end over HTTP
// at scale: a system-level $export (every type) and a Patient/$export of
// a registry of IDEM_BENCH_PATIENTS generated Patients (default 100,000),
// each kick-off, polling and the download of every file of the manifest.
// It reports resources/s from kick-off to the last byte (the crosswalk's
// rows are counted apart) and the process's peak RSS during the exports
// (server and client share the process). The client downloads the files
// one after another, or IDEM_BENCH_DOWNLOADS at once (as Bulk Data
// clients may).
//
// The registry is filled the fastest honest way, not the linked write
// path, whose rate is measured elsewhere: generated Patients stored
// through the store's system path (registry.Writer, the path golden
// records take: versions, search index rows, meta.source; no policy,
// matching or audit), in transactions of 2,000, and for each two Patients
// one golden Person with a MATCH link from each (as linking would leave
// records that are pairs of duplicates). So the system-level export holds
// N Patients and N/2 Persons, the crosswalk N rows with their golden
// records. The file is kept in IDEM_BENCH_DIR (default the temporary
// directory) and reused.
//
//	IDEM_BENCH_PATIENTS=1000000 IDEM_BENCH_DIR=/tmp go test -run '^$' -bench ExportScale -benchtime 1x -timeout 2h ./app/
func BenchmarkExportScale(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("IDEM_BENCH_PATIENTS")); err == nil && v > 0 {
		n = v
	}
	downloads := 1
	if v, err := strconv.Atoi(os.Getenv("IDEM_BENCH_DOWNLOADS")); err == nil && v > 0 {
		downloads = v
	}
	path := exportBenchDB(b, n)
	cfg := DefaultConfig()
	cfg.Addr, cfg.DB, cfg.Seed, cfg.Rate, cfg.AdminToken = "127.0.0.1:0", path, false, 0, testAdminToken
	inst, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	resetPeakRSS()
	b.ResetTimer()
	for _, level := range []struct{ name, url string }{
		{"system", "/fhir/$export"},
		{"Patient", "/fhir/Patient/$export"},
	} {
		resources, crosswalk, elapsed, toManifest := 0, 0, time.Duration(0), time.Duration(0)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			m := exportWait(b, exportKickOff(b, inst.URL()+level.url))
			toManifest += time.Since(t0)
			r, c := downloadAll(b, m["output"].([]any), downloads)
			resources, crosswalk = resources+r, crosswalk+c
			elapsed += time.Since(t0)
		}
		if resources < n*b.N {
			b.Fatalf("%s $export: %d resources, want at least %d", level.name, resources/b.N, n)
		}
		b.ReportMetric(float64(resources)/elapsed.Seconds(), level.name+"-resources/s")
		b.ReportMetric(float64(resources+crosswalk)/elapsed.Seconds(), level.name+"-lines/s")
		b.ReportMetric(toManifest.Seconds()/float64(b.N), level.name+"-s-to-manifest")
	}
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// exportBenchDB returns a SQLite registry of n generated Patients, made
// once (a marker file says it is complete).
func exportBenchDB(b *testing.B, n int) string {
	dir := os.Getenv("IDEM_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("idem-export-linked-%d.db", n))
	if _, err := os.Stat(path + ".done"); err == nil {
		return path
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	w := &registry.Writer{}
	start, stored := time.Now(), 0
	batch := make([]map[string]any, 0, 2000)
	flush := func() error {
		err := store.Write(ctx, func(tx registry.Tx) error {
			var golden string
			for i, res := range batch {
				id := w.NewResourceID()
				if _, err := w.Create(ctx, tx, registry.TypePatient, id, res); err != nil {
					return err
				}
				if i%2 == 0 {
					golden = w.NewResourceID()
					person := map[string]any{"resourceType": "Person", "name": res["name"]}
					if _, err := w.Create(ctx, tx, registry.TypePerson, golden, person); err != nil {
						return err
					}
				}
				now := w.Time()
				l := &registry.Link{GoldenType: registry.TypePerson, GoldenID: golden, SourceType: registry.TypePatient, SourceID: id,
					MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto, NewGolden: i%2 == 0, Created: now, Updated: now}
				if err := tx.PutLink(ctx, l, &registry.Op{Kind: "link", Actor: "benchmark", At: now}); err != nil {
					return err
				}
			}
			return nil
		})
		stored += len(batch)
		batch = batch[:0]
		return err
	}
	full := errors.New("full")
	for round := uint64(1); stored+len(batch) < n; round++ {
		cfg := seed.DefaultConfig()
		cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = round, 20_000, 0, 0
		err := seed.Generate(cfg, func(r seed.Record) error {
			if r.Type != registry.TypePatient {
				return nil
			}
			if meta, ok := r.Resource["meta"].(map[string]any); ok { // a record URL of its own, per round
				if src, ok := meta["source"].(string); ok {
					meta["source"] = fmt.Sprintf("%s-%d", src, round)
				}
			}
			batch = append(batch, r.Resource)
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
			}
			if stored+len(batch) >= n {
				return full
			}
			return nil
		})
		if err != nil && !errors.Is(err, full) {
			b.Fatal(err)
		}
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d Patients in %v (%.0f/s)", stored, time.Since(start).Round(time.Second), float64(stored)/time.Since(start).Seconds())
	if err := os.WriteFile(path+".done", nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// exportWait polls an export's status URL every 50 ms until the manifest.
func exportWait(b *testing.B, status string) map[string]any {
	for {
		req, _ := http.NewRequest("GET", status, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
			return m
		case 202:
			time.Sleep(50 * time.Millisecond)
		default:
			b.Fatalf("status: %d %s", resp.StatusCode, body)
		}
	}
}

// downloadAll downloads the files of a manifest's output, up to parallel
// at once, and returns the lines of the resource files and those of the
// crosswalk.
func downloadAll(b *testing.B, output []any, parallel int) (resources, crosswalk int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed error
	slots := make(chan struct{}, parallel)
	for _, o := range output {
		file := o.(map[string]any)
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			n, err := countLines(file["url"].(string))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = err
			case file["type"] == "Crosswalk":
				crosswalk += n
			default:
				resources += n
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	return resources, crosswalk
}

// countLines downloads one file and counts its lines, each checked to be
// a JSON object (not parsed: client and server share the machine).
func countLines(url string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("download %s: %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		if line := sc.Bytes(); len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
			return n, fmt.Errorf("line %d of %s is not a JSON object: %.200s", n+1, url, line)
		}
		n++
	}
	return n, sc.Err()
}

// resetPeakRSS starts the process's peak RSS (VmHWM) over from its
// current RSS (Linux: clear_refs 5), after returning free memory.
func resetPeakRSS() {
	debug.FreeOSMemory() // what filling the registry left behind
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
