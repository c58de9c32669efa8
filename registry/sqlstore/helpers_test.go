package sqlstore_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// fixedClock returns a clock that advances one millisecond per call, so
// versions have distinct, predictable times.
func fixedClock() func() time.Time {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Millisecond)
	}
}

func service(s *sqlstore.Store) *registry.Service {
	return &registry.Service{Store: s, Writer: &registry.Writer{Now: fixedClock()}}
}

// eachService runs fn once per database with a fresh service.
func eachService(t *testing.T, fn func(t *testing.T, svc *registry.Service)) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) { fn(t, service(s)) })
}

func mustDecode(t testing.TB, js string) map[string]any {
	t.Helper()
	m, err := fhir.ParseResource([]byte(js), "")
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return m
}

func patientJSON(family, given, birth, ident string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:test","value":%q}],
		"name":[{"family":%q,"given":[%q]}],"gender":"female","birthDate":%q}`, ident, family, given, birth)
}

func mustCreate(t testing.TB, svc *registry.Service, js string) *registry.Resource {
	t.Helper()
	m := mustDecode(t, js)
	out, err := svc.Create(context.Background(), m["resourceType"].(string), m, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return out.Resource
}

func search(t testing.TB, svc *registry.Service, typ, query string) *registry.SearchResult {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := svc.Search(context.Background(), typ, v, true)
	if err != nil {
		t.Fatalf("search %s?%s: %v", typ, query, err)
	}
	return res
}

func ids(rs []*registry.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}
