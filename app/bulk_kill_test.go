package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"idem/registry"
	"idem/seed"
)

// An import killed with SIGKILL mid-way resumes when idem starts again:
// every line is written exactly once (the report counts each line once,
// and each source record exists once).
func TestImportResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dbPath := filepath.Join(t.TempDir(), "idem.db")
	addr := freeAddr(t)
	child := startChild(t, dbPath, addr)
	// generated Patients (duplicates across systems included), each with
	// an id of its own in the one client's system
	var sb strings.Builder
	n := 0
	cfg := seed.DefaultConfig()
	cfg.Persons, cfg.Practitioners, cfg.Locations = 1800, 0, 0
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		r.Resource["id"] = fmt.Sprintf("k%d", n)
		delete(r.Resource, "meta")
		line, _ := json.Marshal(r.Resource)
		sb.Write(append(line, '\n'))
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr + "/fhir"
	code, h, body := bulkReq(t, "POST", base+"/$import", testAdminToken, "application/fhir+ndjson", strings.NewReader(sb.String()))
	if code != 202 {
		t.Fatalf("$import: %d %s", code, body)
	}
	status := h.Get("Content-Location")
	done := 0
	for deadline := time.Now().Add(60 * time.Second); done == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, h, _ := bulkReq(t, "GET", status, testAdminToken, "", nil)
		done, _ = strconv.Atoi(strings.Fields(h.Get("X-Progress") + " 0")[0])
	}
	if done == 0 || done >= n {
		t.Fatalf("import progress before the kill: %d of %d", done, n)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	t.Logf("killed at line %d of %d", done, n)
	startChild(t, dbPath, addr)
	m := waitJob(t, status, testAdminToken)
	sum := m["summary"].(map[string]any)
	if sum["created"].(float64) != float64(n) || sum["processed"].(float64) != float64(n) || sum["updated"].(float64) != 0 {
		t.Fatalf("after the restart: %v", sum)
	}
	_, _, body = bulkReq(t, "GET", base+"/Patient?_summary=count", testAdminToken, "", nil)
	var count map[string]any
	json.Unmarshal(body, &count)
	if count["total"].(float64) != float64(n) {
		t.Fatalf("%v Patients stored for %d lines", count["total"], n)
	}
}
