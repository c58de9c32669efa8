package app

import (
	"os"
	"sync"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// Two instances on one PostgreSQL database see each other's writes, and a
// version race across them still has exactly one winner.
func TestTwoInstancesOnePostgres(t *testing.T) {
	if os.Getenv(sqltest.PostgresEnv) == "" {
		t.Skip(sqltest.PostgresEnv + " is not set")
	}
	dsn := sqltest.DSN(t, "postgres")
	a, b := startOn(t, dsn), startOn(t, dsn)
	r := a.do("POST", "/Patient", patientA)
	if r.status != 201 {
		t.Fatalf("create on a: %d", r.status)
	}
	id := r.json(t)["id"].(string)
	if got := b.do("GET", "/Patient/"+id, ""); got.status != 200 {
		t.Fatalf("read on b: %d", got.status)
	}
	body := `{"resourceType":"Patient","id":"` + id + `","gender":"other"}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(s *testServer) {
			defer wg.Done()
			got := s.do("PUT", "/Patient/"+id, body, "If-Match", `W/"1"`)
			mu.Lock()
			statuses[got.status]++
			mu.Unlock()
		}([]*testServer{a, b}[i%2])
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[412] != 19 {
		t.Fatalf("statuses across instances = %v, want one 200 and 19 412", statuses)
	}
}
