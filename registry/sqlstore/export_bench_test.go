package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
)

// BenchmarkExportSnapshot pages through every Patient of a loaded store
// as a $export file is written: by key, at a snapshot time. It reports
// resources per second.
//
//	IDEM_BENCH_PATIENTS=100000 go test -run '^$' -bench ExportSnapshot -benchtime 3x ./registry/sqlstore/
func BenchmarkExportSnapshot(b *testing.B) {
	store := loadedStore(b).Store.(*sqlstore.Store)
	at := time.Now()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		q := registry.SnapshotQuery{Type: registry.TypePatient, At: at, Count: 2000}
		for {
			page, err := store.Snapshot(context.Background(), q)
			if err != nil {
				b.Fatal(err)
			}
			total += len(page)
			if len(page) < q.Count {
				break
			}
			q.After = page[len(page)-1].ID
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "resources/s")
}
