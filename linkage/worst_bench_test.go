package linkage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
)

// worstPatient is the costliest Patient the default repeat limits let a
// client send (fhir.DefaultRepeats): 100 identifiers, 20 names of 20
// given names each, 50 telecoms and 20 addresses, all alike enough that
// every copy matches every other. src names its source record.
func worstPatient(src string, n int) map[string]any {
	lim := fhir.DefaultRepeats()
	var ids, names, tel, addrs []any
	for i := 0; i < lim["identifier"]; i++ {
		ids = append(ids, map[string]any{"system": "urn:oid:1.2.3.4", "value": fmt.Sprintf("%d-%d", n, i)})
	}
	for i := 0; i < lim["name"]; i++ {
		var given []any
		for j := 0; j < lim["given"]; j++ {
			given = append(given, fmt.Sprintf("Given%c%c", 'a'+i, 'a'+j))
		}
		names = append(names, map[string]any{"family": fmt.Sprintf("Worstcase%c", 'a'+i), "given": given})
	}
	for i := 0; i < lim["telecom"]; i++ {
		tel = append(tel, map[string]any{"system": "phone", "value": fmt.Sprintf("555-01%02d-%04d", i, n)})
	}
	for i := 0; i < lim["address"]; i++ {
		addrs = append(addrs, map[string]any{"line": []any{fmt.Sprintf("%d Long Street", i)}, "city": "Springfield", "postalCode": "62704"})
	}
	return map[string]any{"resourceType": "Patient", "meta": map[string]any{"source": src},
		"identifier": ids, "name": names, "telecom": tel, "address": addrs, "birthDate": "1970-01-01", "gender": "female"}
}

// BenchmarkWorstRecord measures how long the costliest record a client can
// send holds the writer: the golden record it matches already holds
// MaxAutoRecords records as large as it (the most the linker joins by
// itself), so the write scores the largest candidates and rebuilds the
// largest Person. It reports p50 and the maximum of the write.
//
//	go test -run '^$' -bench WorstRecord -benchtime 20x ./linkage/
func BenchmarkWorstRecord(b *testing.B) {
	ctx := registry.WithActor(context.Background(), registry.SystemActor("bench"))
	s, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "worst.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	svc := newLinkedService(s)
	for i := 0; i < MaxAutoRecords; i++ {
		if _, err := svc.Create(ctx, "Patient", worstPatient(fmt.Sprintf("http://s%d.example/Patient/1", i), i), ""); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := svc.Create(ctx, "Patient", worstPatient(fmt.Sprintf("http://new%d.example/Patient/1", i), 1000+i), ""); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
}
