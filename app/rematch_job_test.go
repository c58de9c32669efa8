package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"idem/registry/sqlstore/sqltest"
)

// A re-match ($mdm-submit) is a durable job: on PostgreSQL another
// instance answers its status, and when the instance running it is killed
// (kill -9) mid-job, another takes it over once its lease runs out and
// finishes it from its last checkpoint — every record counted once, no
// golden record made twice. On SQLite a restart resumes it the same way.
func TestRematchJobSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			if kind == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "idem.db")
			}
			began := time.Now()
			defer func() { t.Logf("%s in all", time.Since(began).Round(time.Second)) }()
			addr := freeAddr(t)
			env := []string{"IDEM_JOB_LEASE=2s"}
			child := startChildEnv(t, dsn, addr, env...)
			base := "http://" + addr + "/fhir"
			const n = 300 // two pages of 200: the kill comes after the first checkpoint
			for start := 0; start < n; start += 100 {
				var entries []string
				for i := start; i < start+100; i++ {
					entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Patient","identifier":[{"system":"http://rematch.example/mrn","value":"R%d"}],`+
						`"name":[{"family":"Rematch%d","given":["Rhea"]}],"birthDate":"19%02d-%02d-1%d","gender":"female"},"request":{"method":"POST","url":"Patient"}}`,
						i, i, i%100, 1+(i/100)%12, i%10))
				}
				if st, body, err := call("POST", base, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`); err != nil || st != 200 {
					t.Fatalf("load: %d %v %.300s", st, err, body)
				}
			}
			loaded := time.Now()
			persons := func(base string) int {
				_, body, _ := call("GET", base+"/Person?_summary=count", "")
				var b struct{ Total int }
				json.Unmarshal(body, &b)
				return b.Total
			}
			before := persons(base)
			st, body, _ := call("POST", base+"/$mdm-submit", `{"resourceType":"Parameters","parameter":[{"name":"resourceType","valueString":"Patient"},
				{"name":"criteria","valueString":"identifier=http://rematch.example/mrn|"}]}`)
			if st != 202 {
				t.Fatalf("$mdm-submit: %d %s", st, body)
			}
			var kick map[string]any
			json.Unmarshal(body, &kick)
			job := kick["parameter"].([]any)[0].(map[string]any)["valueString"].(string)
			status := func(base string) (string, float64, float64) {
				_, body, _ := call("GET", base+"/$mdm-submit-status/"+job, "")
				var p struct {
					Parameter []struct {
						Name         string  `json:"name"`
						ValueCode    string  `json:"valueCode"`
						ValueInteger float64 `json:"valueInteger"`
					} `json:"parameter"`
				}
				json.Unmarshal(body, &p)
				var s string
				var done, total float64
				for _, x := range p.Parameter {
					switch x.Name {
					case "status":
						s = x.ValueCode
					case "processed":
						done = x.ValueInteger
					case "total":
						total = x.ValueInteger
					}
				}
				return s, done, total
			}
			waitFor(t, "a checkpoint", 60*time.Second, func() bool { _, done, _ := status(base); return done >= 200 })
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			// Another process on the same database: on PostgreSQL a second
			// instance, on SQLite the restart.
			otherAddr := freeAddr(t)
			startChildEnv(t, dsn, otherAddr, env...)
			other := "http://" + otherAddr + "/fhir"
			_, doneAtKill, _ := status(other)
			var s string
			var done, total float64
			waitFor(t, "the job finished elsewhere", 120*time.Second, func() bool { s, done, total = status(other); return s != "running" })
			if s != "done" || done != n || total != n {
				t.Fatalf("after the kill: status %s, processed %v of %v, want done %d of %d", s, done, total, n, n)
			}
			if after := persons(other); after != before {
				t.Fatalf("golden records: %d before the re-match, %d after", before, after)
			}
			t.Logf("killed at %v of %d records processed; finished by another instance, %d golden records before and after; re-match and takeover took %s",
				doneAtKill, n, before, time.Since(loaded).Round(time.Second))
		})
	}
}
