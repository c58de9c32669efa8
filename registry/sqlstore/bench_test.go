package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

var benchFamilies, benchGivens = namePool(5000, 7), namePool(800, 5)

// namePool makes n pronounceable, distinct names.
func namePool(n, maxLen int) []string {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	cons, vow := "bcdfghjklmnprstvwz", "aeiou"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		l := 3 + r.IntN(maxLen-2)
		b := make([]byte, l)
		for i := range b {
			if i%2 == 0 {
				b[i] = cons[r.IntN(len(cons))]
			} else {
				b[i] = vow[r.IntN(len(vow))]
			}
		}
		b[0] -= 'a' - 'A'
		if s := string(b); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// benchPatient returns Patient number i: Zipf-like family names, a birth
// date in 1920–2019, two identifiers, an address and a phone.
func benchPatient(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	fam := benchFamilies[int(float64(len(benchFamilies))*r.Float64()*r.Float64())]
	giv := benchGivens[r.IntN(len(benchGivens))]
	birth := time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(36500)).Format("2006-01-02")
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"MRN%08d"},
		{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-%02d-%04d"}],"active":true,
		"name":[{"use":"official","family":%q,"given":[%q,"M"]}],"telecom":[{"system":"phone","value":"555-%04d","use":"home"}],
		"gender":%q,"birthDate":%q,"address":[{"line":["%d Main St"],"city":"Springfield","state":"IL","postalCode":"%05d","country":"US"}]}`,
		i, i%100, i%10000, fam, giv, r.IntN(10000), []string{"male", "female"}[i%2], birth, i%500, r.IntN(99999))
}

func transactionOf(from, n int) string {
	var b []byte
	b = append(b, `{"resourceType":"Bundle","type":"transaction","entry":[`...)
	for i := from; i < from+n; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = append(b, benchPatient(i)...)
		b = append(b, `,"request":{"method":"POST","url":"Patient"}}`...)
	}
	return string(append(b, "]}"...))
}

// BenchmarkTransactionIngest loads Patients in transaction Bundles of 1,000
// through the full path (parse, validate, index, store) on SQLite, from one
// client sending bundles one after another ("serial") and from clients
// keeping two bundles in flight ("pipelined"), as a bulk loader would.
func BenchmarkTransactionIngest(b *testing.B) {
	bundles := make([][]byte, 20)
	for i := range bundles {
		bundles[i] = []byte(transactionOf(i*1000, 1000))
	}
	load := func(svc *registry.Service, i int) {
		bd, err := fhir.ParseResource(bundles[i%len(bundles)], "Bundle")
		if err == nil {
			_, err = svc.Bundle(context.Background(), bd, registry.BundleOptions{})
		}
		if err != nil {
			b.Error(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		svc := &registry.Service{Store: openBench(b, filepath.Join(b.TempDir(), "ingest.db"))}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			load(svc, i)
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "resources/s")
	})
	b.Run("pipelined", func(b *testing.B) {
		svc := &registry.Service{Store: openBench(b, filepath.Join(b.TempDir(), "ingest.db"))}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				load(svc, int(next.Add(1)))
			}
		})
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "resources/s")
	})
}

func openBench(b *testing.B, path string) *sqlstore.Store {
	s, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchSize is the number of Patients the search benchmarks run against
// (IDEM_BENCH_PATIENTS, default 100,000; the target is 1,000,000).
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("IDEM_BENCH_PATIENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var (
	loadedMu sync.Mutex
	loaded   = map[int]string{}
)

// loadedStore returns a SQLite store holding benchSize() Patients. The file
// is kept in the OS temp dir between runs (IDEM_BENCH_DIR to move it), since
// loading a million Patients takes minutes.
func loadedStore(b *testing.B) *registry.Service {
	n := benchSize()
	dir := os.Getenv("IDEM_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("idem-bench-%d.db", n))
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if _, err := os.Stat(path + ".done"); err != nil {
		os.Remove(path)
		os.Remove(path + "-wal")
		s := openBench(b, path)
		svc := &registry.Service{Store: s}
		start := time.Now()
		for from := 0; from < n; from += 1000 {
			bd, err := fhir.ParseResource([]byte(transactionOf(from, min(1000, n-from))), "Bundle")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Bundle(context.Background(), bd, registry.BundleOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("loaded %d Patients in %v", n, time.Since(start))
		s.Close()
		os.WriteFile(path+".done", nil, 0o644)
	}
	return &registry.Service{Store: openBench(b, path)}
}

// runLatency runs op b.N times on parallel goroutines and reports p50/p99.
func runLatency(b *testing.B, op func(i int) error) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			t0 := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			lat[i] = time.Since(t0)
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkReadByID(b *testing.B) {
	svc := loadedStore(b)
	_, res, err := svc.Search(context.Background(), "Patient", url.Values{"_count": {"1000"}}, true)
	if err != nil {
		b.Fatal(err)
	}
	runLatency(b, func(i int) error {
		_, err := svc.Read(context.Background(), "Patient", res.Matches[i%len(res.Matches)].ID)
		return err
	})
}

func BenchmarkSearchFamilyBirthdate(b *testing.B) {
	svc := loadedStore(b)
	n := benchSize()
	runLatency(b, func(i int) error {
		p := mustDecode(b, benchPatient((i*7919)%n))
		name := p["name"].([]any)[0].(map[string]any)
		q := url.Values{"family": {name["family"].(string)}, "birthdate": {p["birthDate"].(string)}}
		_, res, err := svc.Search(context.Background(), "Patient", q, true)
		if err == nil && len(res.Matches) == 0 {
			err = fmt.Errorf("no match for %v", q)
		}
		return err
	})
}

func BenchmarkSearchIdentifier(b *testing.B) {
	svc := loadedStore(b)
	n := benchSize()
	runLatency(b, func(i int) error {
		q := url.Values{"identifier": {fmt.Sprintf("urn:oid:1.2.36.146.595.217.0.1|MRN%08d", (i*7919)%n)}}
		_, res, err := svc.Search(context.Background(), "Patient", q, true)
		if err == nil && len(res.Matches) != 1 {
			err = fmt.Errorf("%d matches for %v", len(res.Matches), q)
		}
		return err
	})
}

// BenchmarkConcurrentCreates: 64 goroutines each creating single Patients
// (durable commits; on SQLite they share fsyncs through group commit).
func BenchmarkConcurrentCreates(b *testing.B) {
	svc := &registry.Service{Store: openBench(b, filepath.Join(b.TempDir(), "creates.db"))}
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = benchPatient(i)
	}
	var next atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS(2) = 64 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			m, err := fhir.ParseResource([]byte(bodies[i%len(bodies)]), "Patient")
			if err == nil {
				_, err = svc.Create(context.Background(), "Patient", m, "")
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
