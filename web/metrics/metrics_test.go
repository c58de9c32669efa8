package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteOf(t *testing.T) {
	for _, tc := range []struct {
		method, route, typ string
		wantType, want     string
	}{
		{"POST", "/fhir/:type", "Patient", "Patient", "create"},
		{"PUT", "/fhir/:type/:id", "Location", "Location", "update"},
		{"PUT", "/fhir/:type", "Patient", "Patient", "update"},
		{"DELETE", "/fhir/:type/:id", "Practitioner", "Practitioner", "delete"},
		{"POST", "/fhir/", "", "Bundle", "transaction"},
		{"POST", "/fhir/:type/_search", "Patient", "", ""},
		{"POST", "/fhir/:type/$match", "Patient", "", ""},
		{"POST", "/fhir/$mdm-update-link", "", "", ""},
		{"GET", "/fhir/:type/:id", "Patient", "", ""},
		{"POST", "/fhir/:type", "", "", ""}, // an unknown type: no label
	} {
		typ, got := writeOf(Request{Method: tc.method, Route: tc.route, Type: tc.typ})
		if typ != tc.wantType || got != tc.want {
			t.Errorf("%s %s: %q %q, want %q %q", tc.method, tc.route, typ, got, tc.wantType, tc.want)
		}
	}
}

// A Snapshot reads once per TTL, and keeps its last values when a read fails.
func TestSnapshotCaches(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reads, fail := 0, false
	s := NewSnapshot("idem_test_items", "test", []string{"kind"}, 15*time.Second, func(context.Context) ([]Sample, error) {
		reads++
		if fail {
			return nil, errors.New("database down")
		}
		return []Sample{{Labels: []string{"a"}, Value: float64(reads)}}, nil
	})
	s.now = func() time.Time { return now }
	m := New()
	m.Register(s)
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	for _, step := range []struct {
		advance time.Duration
		fail    bool
		want    string
		reads   int
	}{
		{0, false, `idem_test_items{kind="a"} 1`, 1},
		{10 * time.Second, false, `idem_test_items{kind="a"} 1`, 1},
		{10 * time.Second, false, `idem_test_items{kind="a"} 2`, 2},
		{20 * time.Second, true, `idem_test_items{kind="a"} 2`, 3},
	} {
		now, fail = now.Add(step.advance), step.fail
		if out := scrape(); !strings.Contains(out, step.want) || reads != step.reads {
			t.Errorf("after %v: reads %d (want %d), want %s in\n%s", step.advance, reads, step.reads, step.want, out)
		}
	}
}
