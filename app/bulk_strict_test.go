package app

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"idem/registry/sqlstore"
)

// strictLines are n Patients of the client whose records are in the
// http://ehr.example/mrn domain, pairs of them alike (so they link), but
// line refused carries an identifier of http://other.example/mrn, another
// client's domain.
func strictLines(n, refused int) string {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		domain := "http://ehr.example/mrn"
		if i == refused {
			domain = "http://other.example/mrn"
		}
		fmt.Fprintf(&sb, `{"resourceType":"Patient","id":"s%d","identifier":[{"system":"%s","value":"%d"}],`+
			`"name":[{"family":"Family%d","given":["Given%d"]}],"birthDate":"19%02d-0%d-1%d","gender":"female"}`+"\n",
			i, domain, i, i/2, i/2, (i/2)%100, 1+(i/2)%9, (i/2)%10)
	}
	return sb.String()
}

// tableCounts counts the rows of every table of the store but the bulk
// job tables (a job's own row, spooled lines and report).
func tableCounts(t *testing.T, s *testServer) map[string]int {
	t.Helper()
	db := s.store.ReadDB()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if sqlstore.IsPostgres(s.cfg.DB) {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	if err := db.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tb := range tables {
		if strings.HasPrefix(tb, "bulk_") || strings.HasPrefix(tb, "sqlite_") {
			continue
		}
		var n int
		if err := db.Raw(`SELECT COUNT(*) FROM ` + tb).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// A strict import whose line 1,200 the policy refuses (another client's
// identifier domain), after two batches of 500 were written, fails with
// an OperationOutcome naming the line and leaves the registry exactly as
// it was: no records, links, golden records or AuditEvents of its writes
// (every table holds the rows it held before). The same file imported
// without strict stores every other line.
func TestStrictImportAllOrNothing(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
		addSource(t, s, "other", "http://other.example/fhir", "http://other.example/mrn")
		// something stored before, which the import must leave as it is
		if r := s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Family3","given":["Given3"]}],"birthDate":"1903-04-13","gender":"female"}`); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const n, refused = 1500, 1200
		lines := strictLines(n, refused)
		// the outbox keeps the events of writes while the exchange is paused
		defer pauseExchange(s)()
		before := tableCounts(t, s)
		code, h, resp := bulkReq(t, "POST", s.base+"/$import?strict=true", tok, "application/fhir+ndjson", strings.NewReader(lines))
		if code != 202 {
			t.Fatalf("strict $import: %d %s", code, resp)
		}
		final := pollStatus(t, h.Get("Content-Location"), tok)
		if final.status != 422 || !strings.Contains(string(final.body), `"OperationOutcome"`) || !strings.Contains(string(final.body), fmt.Sprintf("line %d:", refused)) {
			t.Fatalf("status of the strict import: %d %s", final.status, final.body)
		}
		mustValidFHIR(t, final.body)
		if after := tableCounts(t, s); !maps.Equal(before, after) {
			for tb, n := range after {
				if before[tb] != n {
					t.Errorf("table %s: %d rows before the failed strict import, %d after", tb, before[tb], n)
				}
			}
		}
		code, h, resp = bulkReq(t, "POST", s.base+"/$import", tok, "application/fhir+ndjson", strings.NewReader(lines))
		if code != 202 {
			t.Fatalf("$import: %d %s", code, resp)
		}
		sum := waitJob(t, h.Get("Content-Location"), tok)["summary"].(map[string]any)
		if sum["created"].(float64) != n-1 || sum["rejected"].(float64) != 1 {
			t.Fatalf("the same file without strict: %v", sum)
		}
		sources := patientSources(t, s.base)
		if len(sources) != n { // n-1 lines and the Patient created before
			t.Errorf("%d Patients' sources after the import, want %d", len(sources), n)
		}
		if _, ok := sources[fmt.Sprintf("http://ehr.example/fhir/Patient/s%d", refused)]; ok {
			t.Errorf("the refused line was stored")
		}
	})
}

// pollStatus polls an import status URL until it answers other than 202.
func pollStatus(t *testing.T, status, token string) *response {
	t.Helper()
	r := &response{}
	waitFor(t, "the import ended", 120*time.Second, func() bool {
		r.status, r.header, r.body = bulkReq(t, "GET", status, token, "", nil)
		return r.status != 202
	})
	return r
}
