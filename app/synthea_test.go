package app

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData returns ../shared/data (relative to the repository root), or
// skips the test when it is absent.
func sharedData(t *testing.T) string {
	dir := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("needs the project's shared data at %s (the Synthea sample, %s/synthea/*.ndjson): it sits beside the repository, not in a clone", dir, dir)
	}
	return dir
}

// The Synthea sample loads through transaction Bundles, every resource is
// readable and searchable, and the responses are valid FHIR.
func TestLoadSynthea(t *testing.T) {
	dir := filepath.Join(sharedData(t), "synthea")
	s := startServer(t, "sqlite")
	for _, typ := range []string{"Patient", "Practitioner", "Location"} {
		lines := readLines(t, filepath.Join(dir, typ+".000.ndjson"))
		for from := 0; from < len(lines); from += 250 {
			var entries []string
			for _, l := range lines[from:min(from+250, len(lines))] {
				entries = append(entries, `{"resource":`+l+`,"request":{"method":"POST","url":"`+typ+`"}}`)
			}
			r := s.do("POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)
			if r.status != 200 {
				t.Fatalf("%s bundle at %d: %d %s", typ, from, r.status, truncate(r.body))
			}
		}
		got := s.do("GET", "/"+typ+"?_summary=count", "").json(t)["total"]
		if fmt.Sprint(got) != fmt.Sprint(len(lines)) {
			t.Fatalf("%s: stored %v, want %d", typ, got, len(lines))
		}
	}
	r := s.do("GET", "/Patient?identifier=http://hl7.org/fhir/sid/us-ssn|&_count=5&_sort=family", "")
	if r.status != 200 || !strings.Contains(string(r.body), `"relation":"next"`) {
		t.Fatalf("search over Synthea: %d %s", r.status, truncate(r.body))
	}
}

func readLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
