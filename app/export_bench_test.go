package app

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"
)

// BenchmarkExportHTTP is a Bulk Data client exporting every Patient of an
// existing database over HTTP: kick-off (GET $export?_type=Patient,
// Prefer: respond-async), polling the status URL until the manifest, and
// downloading each file to its last line. It reports resources/s from
// kick-off to the last byte: Patients/s counts the Patient file, lines/s
// every file of the manifest (the crosswalk's rows too). IDEM_BENCH_DB names the database (it is
// opened, migrated and written to: use a copy or a benchmark's own file,
// such as the one BenchmarkExportSnapshot of registry/sqlstore builds).
//
//	IDEM_BENCH_DB=/tmp/idem-bench-1000000.db go test -run '^$' -bench ExportHTTP -benchtime 1x ./app/
func BenchmarkExportHTTP(b *testing.B) {
	db := os.Getenv("IDEM_BENCH_DB")
	if db == "" {
		b.Skip("IDEM_BENCH_DB names the database to export (e.g. $IDEM_BENCH_DIR/idem-bench-1000000.db of BenchmarkExportSnapshot)")
	}
	cfg := DefaultConfig()
	cfg.Addr, cfg.DB, cfg.Seed, cfg.Rate, cfg.AdminToken = "127.0.0.1:0", db, false, 0, testAdminToken
	inst, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	b.ResetTimer()
	total, patients, kickToManifest := 0, 0, time.Duration(0)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		status := exportKickOff(b, inst.URL()+"/fhir/$export?_type=Patient")
		m := benchWait(b, status, testAdminToken)
		kickToManifest += time.Since(t0)
		for _, o := range m["output"].([]any) {
			file := o.(map[string]any)
			n := exportLines(b, file["url"].(string))
			if file["type"] == "Patient" {
				patients += n
			}
			total += n
		}
	}
	b.ReportMetric(float64(patients)/b.Elapsed().Seconds(), "Patients/s")
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(kickToManifest.Seconds()/float64(b.N), "s-to-manifest")
	b.ReportMetric(float64(patients/b.N), "Patients")
}

func exportKickOff(b *testing.B, url string) string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Prefer", "respond-async")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		b.Fatalf("kick-off: %d", resp.StatusCode)
	}
	return resp.Header.Get("Content-Location")
}

// exportLines downloads one file and counts its lines, each checked to be
// a JSON object (a full parse per line would slow the measured server:
// client and server share the machine).
func exportLines(b *testing.B, url string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("download %s: %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		if line := sc.Bytes(); len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
			b.Fatalf("line %d of %s is not a JSON object: %.200s", n+1, url, line)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
