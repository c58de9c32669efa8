package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// childMain is a child idem process of a test (IDEM_TEST_CHILD=1): idem
// serve, with its clock off by IDEM_TEST_CLOCK_SKEW (a duration) when set,
// as clockskew_test.go's skewed sets an instance's in the test process.
func childMain() int {
	skew := os.Getenv("IDEM_TEST_CLOCK_SKEW")
	if skew == "" {
		return Main(context.Background(), []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
	}
	d, err := time.ParseDuration(skew)
	cfg := DefaultConfig()
	if err == nil {
		err = cfg.fromEnv(os.Getenv)
	}
	if err == nil {
		cfg.now = func() time.Time { return time.Now().Add(d) }
		err = serveCommand(context.Background(), cfg, nil, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idem:", err)
		return 1
	}
	return 0
}

// patientLines returns n generated Patients (duplicates across systems
// included) as NDJSON, each with an id of its own: prefix and a number.
func patientLines(t *testing.T, n int, prefix string) string {
	t.Helper()
	var sb strings.Builder
	cfg := seed.DefaultConfig()
	cfg.Persons, cfg.Practitioners, cfg.Locations = n, 0, 0
	i := 0
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient || i == n {
			return nil
		}
		r.Resource["id"] = fmt.Sprintf("%s%d", prefix, i)
		delete(r.Resource, "meta")
		line, _ := json.Marshal(r.Resource)
		sb.Write(append(line, '\n'))
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i < n {
		t.Fatalf("generated %d Patients, want %d", i, n)
	}
	return sb.String()
}

// Two idem processes on one PostgreSQL database, one with its clock 3
// minutes behind, one 3 minutes ahead, bulk job leases of 2 s. An import
// running on either is not taken over by the other while its worker
// renews the lease, and is taken over (and finished) once that worker is
// killed: leases follow the database's clock, not the instances'. Each
// line is stored once.
func TestImportLeaseClockSkew(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dsn := sqltest.DSN(t, "postgres")
	db := sqltest.Open(t, dsn).ReadDB()
	env := func(skew string) []string { return []string{"IDEM_JOB_LEASE=2s", "IDEM_TEST_CLOCK_SKEW=" + skew} }
	behindAddr, aheadAddr := freeAddr(t), freeAddr(t)
	behind := startChildEnv(t, dsn, behindAddr, env("-3m")...)
	ahead := startChildEnv(t, dsn, aheadAddr, env("3m")...)
	const n = 1500
	t.Run("runs behind, taken over ahead", func(t *testing.T) {
		leaseHandOver(t, db, patientLines(t, n, "b"), behindAddr, behind.Process.Pid, aheadAddr, ahead.Process.Pid)
	})
	againAddr := freeAddr(t)
	again := startChildEnv(t, dsn, againAddr, env("-3m")...)
	t.Run("runs ahead, taken over behind", func(t *testing.T) {
		leaseHandOver(t, db, patientLines(t, n, "a"), aheadAddr, ahead.Process.Pid, againAddr, again.Process.Pid)
	})
	sources := patientSources(t, "http://"+againAddr+"/fhir")
	if len(sources) != 2*n {
		t.Errorf("%d source records stored for %d lines", len(sources), 2*n)
	}
	for src, count := range sources {
		if count != 1 {
			t.Errorf("%s stored %d times", src, count)
		}
	}
}

// leaseHandOver imports lines on the instance at first (process id
// firstPID), checks that the instance at second (secondPID) leaves the
// job alone while first works it, kills first, and waits for second to
// finish the job.
func leaseHandOver(t *testing.T, db *gorm.DB, lines, first string, firstPID int, second string, secondPID int) {
	n := strings.Count(lines, "\n")
	code, h, body := bulkReq(t, "POST", "http://"+first+"/fhir/$import", testAdminToken, "application/fhir+ndjson", strings.NewReader(lines))
	if code != 202 {
		t.Fatalf("$import: %d %s", code, body)
	}
	status := h.Get("Content-Location")
	job := status[strings.LastIndex(status, "/")+1:]
	var row struct {
		LeaseOwner string
		Done       int
		Status     string
	}
	read := func() {
		if err := db.Raw(`SELECT lease_owner, done, status FROM bulk_jobs WHERE id = ?`, job).Scan(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	owns := func(pid int) bool { return strings.Contains(row.LeaseOwner, fmt.Sprintf("/%d/", pid)) }
	waitFor(t, "the import leased", 20*time.Second, func() bool { read(); return row.LeaseOwner != "" })
	if !owns(firstPID) {
		t.Fatalf("the job was leased by %q, not by the instance it was submitted to (pid %d)", row.LeaseOwner, firstPID)
	}
	// Watch the lease for three lease periods (while the worker renews it
	// every batch) or until most of the job is done.
	for start := time.Now(); time.Since(start) < 6*time.Second && row.Done < n*2/3; time.Sleep(20 * time.Millisecond) {
		read()
		if row.LeaseOwner != "" && !owns(firstPID) {
			t.Fatalf("the job's live lease was taken over by %q after %v (line %d of %d)", row.LeaseOwner, time.Since(start).Round(time.Millisecond), row.Done, n)
		}
	}
	if row.Done >= n || row.Status != registry.JobRunning {
		t.Fatalf("the import was %s at line %d of %d before the kill: give it more lines", row.Status, row.Done, n)
	}
	proc, _ := os.FindProcess(firstPID)
	proc.Signal(syscall.SIGKILL)
	t.Logf("killed at line %d of %d", row.Done, n)
	// The instance left takes the lease (a worker gives its lease up when
	// it ends the job, so it is watched while the job runs).
	taken := false
	waitFor(t, "the instance left to take the job over", 90*time.Second, func() bool {
		read()
		taken = taken || owns(secondPID)
		return taken || row.Status != registry.JobRunning
	})
	if !taken {
		t.Errorf("the job ended (%s) and the instance left (pid %d) was never seen holding its lease (last %q)", row.Status, secondPID, row.LeaseOwner)
	}
	m := waitJob(t, strings.Replace(status, first, second, 1), testAdminToken)
	sum := m["summary"].(map[string]any)
	if sum["created"].(float64) != float64(n) || sum["processed"].(float64) != float64(n) {
		t.Errorf("after the take-over: %v", sum)
	}
}
