package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// Two idem processes on one PostgreSQL database import the same NDJSON at
// the same moment, each as the same client: every source record exists
// exactly once afterwards (the two jobs' created counts add up to the
// lines, the rest are updates), nothing is rejected, no request fails,
// and each instance answers the other's job status.
func TestConcurrentImportsNoDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dsn := sqltest.DSN(t, "postgres")
	addrs := []string{freeAddr(t), freeAddr(t)}
	for _, addr := range addrs {
		startChildEnv(t, dsn, addr)
	}
	body, n := concurrentImportBody(t, 1200)
	statuses := make([]string, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, h, resp := bulkReq(t, "POST", "http://"+addr+"/fhir/$import", testAdminToken, "application/fhir+ndjson", strings.NewReader(body))
			mu.Lock()
			defer mu.Unlock()
			if code != 202 {
				failures = append(failures, fmt.Sprintf("$import on %s: %d %.300s", addr, code, resp))
			}
			statuses[i] = h.Get("Content-Location")
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(strings.Join(failures, "\n"))
	}
	created, updated := 0.0, 0.0
	for i, status := range statuses {
		// polled on the other instance: any instance answers a job's status
		other := strings.Replace(status, addrs[i], addrs[1-i], 1)
		if other == status {
			t.Fatalf("status URL %s does not name its instance %s", status, addrs[i])
		}
		sum := waitJob(t, other, testAdminToken)["summary"].(map[string]any)
		if sum["rejected"].(float64) != 0 || sum["processed"].(float64) != float64(n) {
			t.Fatalf("job %d: %v", i, sum)
		}
		created += sum["created"].(float64)
		updated += sum["updated"].(float64)
	}
	if created != float64(n) || updated != float64(n) {
		t.Errorf("created %v and updated %v for %d lines imported twice; want %d and %d", created, updated, n, n, n)
	}
	sources := patientSources(t, "http://"+addrs[0]+"/fhir")
	if len(sources) != n {
		t.Errorf("%d distinct source records for %d lines", len(sources), n)
	}
	for src, count := range sources {
		if count != 1 {
			t.Errorf("%s stored %d times", src, count)
		}
	}
}

// concurrentImportBody returns an NDJSON of about n generated Patients
// (duplicates across systems included), each with an id of its own.
func concurrentImportBody(t *testing.T, n int) (string, int) {
	t.Helper()
	var sb strings.Builder
	cfg := seed.DefaultConfig()
	cfg.Persons, cfg.Practitioners, cfg.Locations = n*3/4, 0, 0
	lines := 0
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient || lines == n {
			return nil
		}
		r.Resource["id"] = fmt.Sprintf("c%d", lines)
		delete(r.Resource, "meta")
		line, _ := json.Marshal(r.Resource)
		sb.Write(append(line, '\n'))
		lines++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String(), lines
}

// patientSources counts the Patients stored per meta.source, paging
// through a search of them all.
func patientSources(t *testing.T, base string) map[string]int {
	t.Helper()
	out := map[string]int{}
	next := base + "/Patient?_count=500"
	for next != "" {
		code, _, body := bulkReq(t, "GET", next, testAdminToken, "", nil)
		if code != 200 {
			t.Fatalf("search: %d %.300s", code, body)
		}
		var page struct {
			Entry []struct {
				Resource struct {
					ResourceType string
					Meta         struct{ Source string }
				}
			}
			Link []struct{ Relation, URL string }
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entry {
			if e.Resource.ResourceType == "Patient" {
				out[e.Resource.Meta.Source]++
			}
		}
		next = ""
		for _, l := range page.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return out
}
