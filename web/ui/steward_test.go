package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idem/registry"
)

// Identifiers compare within one system: another system says nothing.
func TestIdentifierAgreement(t *testing.T) {
	for _, tc := range []struct {
		mine, theirs []string
		want         string
	}{
		{[]string{"1 (urn:a)"}, []string{"2 (urn:b)"}, "cell-missing"},
		{[]string{"1 (urn:a)"}, []string{"2 (urn:a)"}, "cell-disagree"},
		{[]string{"1 (urn:a)", "9 (urn:b)"}, []string{"2 (urn:a)", "9 (urn:b)"}, "cell-agree"},
		{nil, []string{"2 (urn:a)"}, "cell-missing"},
	} {
		if got := identifierAgreement(tc.mine, tc.theirs); got != tc.want {
			t.Errorf("%v vs %v: %s, want %s", tc.mine, tc.theirs, got, tc.want)
		}
	}
}

// A Person-vs-Person proposal has an evidence panel: the best pair of the
// two Persons' records, scored by the matcher.
func TestUIDuplicateEvidence(t *testing.T) {
	e := newUIEnv(t, true)
	g, err1 := registry.ParseRef(e.a.Golden)
	o, err2 := registry.ParseRef(e.b.Golden)
	if err1 != nil || err2 != nil || g.Type != registry.TypePerson || o.Type != registry.TypePerson || g.ID == o.ID {
		t.Fatalf("golden records %s and %s: want two Persons", e.a.Golden, e.b.Golden)
	}
	ctx := context.Background()
	err := e.svc.Store.Write(ctx, func(tx registry.Tx) error {
		op := &registry.Op{Kind: "link", Actor: "test", Reason: "uncertain matches: own golden record, candidates for review", At: time.Now()}
		if err := tx.AddOp(ctx, op); err != nil {
			return err
		}
		return tx.PutLink(ctx, &registry.Link{GoldenType: g.Type, GoldenID: g.ID, SourceType: o.Type, SourceID: o.ID,
			MatchResult: registry.MatchResultPossibleDuplicate, LinkSource: registry.LinkSourceAuto, Score: 0.9, Grade: "probable",
			Created: time.Now(), Updated: time.Now()}, op)
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("ann")
	compare := "/review/compare?" + url.Values{"source": {e.b.Golden}, "golden": {e.a.Golden}}.Encode()
	p := b.get(compare).must(t, http.StatusOK, "#evidence tbody tr", "#pair", "#reason")
	if pair := p.text("#pair"); !strings.Contains(pair, e.a.Resource.ID) || !strings.Contains(pair, e.b.Resource.ID) {
		t.Errorf("pair %q, want the two Patients", pair)
	}
}
