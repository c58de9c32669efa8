package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// Two idem processes on one PostgreSQL database receive the same PMIR
// feed message (new records of one source) at the same moment: each
// source record exists exactly once afterwards, and both pushes answer
// ok (the one that lost the race updated the record the other created).
// Then two conditional updates (PUT Patient?identifier=…) of a record
// that does not exist yet, at once: one record.
func TestConcurrentPushesOneRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dsn := sqltest.DSN(t, "postgres")
	addrs := []string{freeAddr(t), freeAddr(t)}
	for _, addr := range addrs {
		startChildEnv(t, dsn, addr)
	}
	st, body, err := call("POST", "http://"+addrs[0]+"/admin/api/clients",
		`{"name":"pmir-src","system":"`+pmirSystem+`","roles":["source"],"domains":["`+pmirMRN+`"]}`)
	var client struct{ Token string }
	json.Unmarshal(body, &client)
	if err != nil || st != 201 || client.Token == "" {
		t.Fatalf("client: %d %s %v", st, body, err)
	}
	const rounds, per = 15, 4
	var ids []string
	for r := 0; r < rounds; r++ {
		var entries []string
		for j := 0; j < per; j++ {
			id := fmt.Sprintf("race-%d-%d", r, j)
			ids = append(ids, id)
			entries = append(entries, pmirPatient("POST", id, fmt.Sprintf("Racer%c%c", 'A'+r, 'A'+j), "Pat", "1980-01-01", "Romulus", ""))
		}
		var wg sync.WaitGroup
		answers := make([]string, len(addrs))
		for i, addr := range addrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := pmirMessage(fmt.Sprintf("race-%d-%d", r, i), entries...)
				code, _, out := bulkReq(t, "POST", "http://"+addr+"/fhir/$process-message", client.Token, "application/fhir+json", strings.NewReader(msg))
				answers[i] = fmt.Sprintf("%d %s", code, out)
			}()
		}
		wg.Wait()
		for _, a := range answers {
			if !strings.HasPrefix(a, "200 ") || !strings.Contains(a, `"code":"ok"`) {
				t.Fatalf("round %d: a push answered %.600s", r, a)
			}
		}
	}
	count := func(query string) int {
		t.Helper()
		code, _, out := bulkReq(t, "GET", "http://"+addrs[1]+"/fhir/Patient?"+query+"&_summary=count", testAdminToken, "", nil)
		var b struct{ Total int }
		if json.Unmarshal(out, &b); code != 200 {
			t.Fatalf("count %s: %d %s", query, code, out)
		}
		return b.Total
	}
	for _, id := range ids {
		if n := count("identifier=" + url.QueryEscape(pmirMRN+"|"+id)); n != 1 {
			t.Errorf("source record %s is stored %d times", id, n)
		}
	}

	for r := 0; r < 10; r++ {
		q := "identifier=" + url.QueryEscape("http://cond.example/id|c"+fmt.Sprint(r))
		var wg sync.WaitGroup
		codes, outs := make([]int, len(addrs)), make([]string, len(addrs))
		for i, addr := range addrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := `{"resourceType":"Patient","identifier":[{"system":"http://cond.example/id","value":"c` + fmt.Sprint(r) + `"}],"name":[{"family":"Cond` + fmt.Sprint(i) + `"}]}`
				var out []byte
				codes[i], _, out = bulkReq(t, "PUT", "http://"+addr+"/fhir/Patient?"+q, testAdminToken, "application/fhir+json", strings.NewReader(body))
				outs[i] = string(out)
			}()
		}
		wg.Wait()
		if codes[0] >= 300 || codes[1] >= 300 {
			t.Fatalf("conditional updates answered %v %s", codes, outs)
		}
		if n := count(q); n != 1 {
			t.Errorf("two conditional updates at once of a new record made %d records", n)
		}
	}
}

// A source's PUT of its pushed record by the registry id, without
// meta.source in the body, keeps the record's source URL: the same
// source record pushed again updates it, never makes a second.
func TestPutKeepsSourceRecordURL(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		token := s.addClient(`{"name":"pmir-src","system":"` + pmirSystem + `","roles":["source"],"domains":["` + pmirMRN + `"]}`)
		as := bearer(token)
		r := s.do("POST", "/$process-message", pmirMessage("keep-1", pmirPatient("POST", "777", "Keeper", "Kim", "1970-01-01", "Romulus", "")), as...)
		messageResponse(t, r, 200, "keep-1", "ok")
		id := s.onePatient("777")
		put := `{"resourceType":"Patient","id":"` + id + `","identifier":[{"system":"` + pmirMRN + `","value":"777"}],"name":[{"family":"Keeper","given":["Kimberly"]}],"birthDate":"1970-01-01"}`
		if r := s.do("PUT", "/Patient/"+id, put, as...); r.status != 200 {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		got := s.mustOK(200, "GET", "/Patient/"+id, "")
		if src := got["meta"].(map[string]any)["source"]; src != pmirSystem+"/Patient/777" {
			t.Fatalf("meta.source after the PUT: %v, want the source's record URL", src)
		}
		r = s.do("POST", "/$process-message", pmirMessage("keep-2", pmirPatient("PUT", "777", "Keeper", "Kim", "1970-01-01", "Owensburg", "")), as...)
		messageResponse(t, r, 200, "keep-2", "ok")
		if ids := s.byIdentifier(pmirMRN, "777"); len(ids) != 1 {
			t.Fatalf("the source record is stored %d times after a PUT and a push: %v", len(ids), ids)
		}
	})
}
