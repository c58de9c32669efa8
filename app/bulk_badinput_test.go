package app

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A strict import whose lines all validate but one of which the policy
// refuses (another client's identifier domain) is accepted, then fails:
// its status answers 422 with an OperationOutcome naming the line.
func TestStrictImportFailsOnRefusedLine(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := addSource(t, s, "ehr", "http://ehr.example/fhir", "http://ehr.example/mrn")
		addSource(t, s, "other", "http://other.example/fhir", "http://other.example/mrn")
		body := `{"resourceType":"Patient","id":"s1","identifier":[{"system":"http://ehr.example/mrn","value":"1"}],"name":[{"family":"Shirley"}]}
{"resourceType":"Patient","id":"s2","identifier":[{"system":"http://other.example/mrn","value":"2"}],"name":[{"family":"Villette"}]}
`
		code, h, resp := bulkReq(t, "POST", s.base+"/$import?strict=true", tok, "application/fhir+ndjson", strings.NewReader(body))
		if code != 202 {
			t.Fatalf("$import: %d %s", code, resp)
		}
		var final []byte
		for i := 0; i < 600; i++ {
			code, _, final = bulkReq(t, "GET", h.Get("Content-Location"), tok, "", nil)
			if code != 202 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if code != 422 || !bytes.Contains(final, []byte("OperationOutcome")) || !bytes.Contains(final, []byte("line 2")) {
			t.Fatalf("status of a strict import with a refused line: %d %s", code, final)
		}
	})
}
