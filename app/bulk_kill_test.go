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
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// An import killed with SIGKILL mid-way is finished: every line is written
// exactly once (the report counts each line once, and each source record
// exists once).
func TestImportResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) { importKilled(t, kind) })
	}
}

// importKilled kills the instance running an import mid-way; on SQLite
// idem starts again on the same file, on PostgreSQL a second instance
// already running takes the job over once its lease (2 s) runs out, and
// answers its status.
func importKilled(t *testing.T, kind string) {
	dsn := sqltest.DSN(t, kind)
	if kind == "sqlite" {
		dsn = filepath.Join(t.TempDir(), "idem.db")
	}
	addr := freeAddr(t)
	env := []string{"IDEM_JOB_LEASE=2s"}
	child := startChildEnv(t, dsn, addr, env...)
	otherAddr := addr
	if kind == "postgres" {
		otherAddr = freeAddr(t)
		startChildEnv(t, dsn, otherAddr, env...)
	}
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
	for deadline := time.Now().Add(120 * time.Second); done == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, h, _ := bulkReq(t, "GET", status, testAdminToken, "", nil)
		done, _ = strconv.Atoi(strings.Fields(h.Get("X-Progress") + " 0")[0])
	}
	if done == 0 || done >= n {
		t.Fatalf("import progress before the kill: %d of %d", done, n)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	t.Logf("killed at line %d of %d", done, n)
	if kind == "sqlite" {
		startChildEnv(t, dsn, addr, env...)
	}
	status = strings.Replace(status, addr, otherAddr, 1)
	base = "http://" + otherAddr + "/fhir"
	m := waitJob(t, status, testAdminToken)
	sum := m["summary"].(map[string]any)
	if sum["created"].(float64) != float64(n) || sum["processed"].(float64) != float64(n) || sum["updated"].(float64) != 0 {
		t.Fatalf("after the restart: %v", sum)
	}
	sources := patientSources(t, base)
	if len(sources) != n {
		t.Fatalf("%d source records stored for %d lines", len(sources), n)
	}
	for src, count := range sources {
		if count != 1 {
			t.Errorf("%s stored %d times", src, count)
		}
	}
}
