package sqlstore_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"idem/registry"
)

func TestSearchSemantics(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		mk := func(js string) string { return mustCreate(t, svc, js).ID }
		a := mk(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"A1"}],"active":true,
			"name":[{"family":"Müller","given":["Anna","Maria"]},{"use":"maiden","family":"Schmidt"}],
			"gender":"female","birthDate":"1980-05-03","telecom":[{"system":"phone","value":"555-0101"},{"system":"email","value":"anna@example.org"}],
			"address":[{"line":["1 Main St"],"city":"Springfield","postalCode":"12345","state":"IL","country":"USA"}]}`)
		b := mk(`{"resourceType":"Patient","identifier":[{"system":"urn:ssn","value":"A1"}],"active":false,
			"name":[{"family":"Mullins","given":["Bob"]}],"gender":"male","birthDate":"1980-05",
			"address":[{"city":"Shelbyville","postalCode":"54321"}]}`)
		c := mk(`{"resourceType":"Patient","identifier":[{"value":"C3"}],"name":[{"family":"O'Brien","given":["Ciara"]}],"birthDate":"1975"}`)
		cases := []struct {
			query string
			want  []string
		}{
			{"family=mul", []string{a, b}},
			{"family=MÜLLER", []string{a}},
			{"family=muller", []string{a}},
			{"family:exact=Müller", []string{a}},
			{"family:exact=muller", nil},
			{"family:contains=ll", []string{a, b}},
			{"family=schmidt", []string{a}},
			{"name=maria", []string{a}},
			{"name=o'b", []string{c}},
			{"given=anna,bob", []string{a, b}},
			{"family=mul&given=bob", []string{b}},
			{"identifier=A1", []string{a, b}},
			{"identifier=urn:mrn|A1", []string{a}},
			{"identifier=urn:mrn|", []string{a}},
			{"identifier=|C3", []string{c}},
			{"gender=female", []string{a}},
			{"gender:not=female", []string{b, c}},
			{"gender:missing=true", []string{c}},
			{"active=true", []string{a}},
			{"birthdate=1980", []string{a, b}},
			{"birthdate=1980-05-03", []string{a}},
			{"birthdate=lt1980-05-04", []string{a, b, c}},
			{"birthdate=gt1980-05-03", []string{b}},
			{"birthdate=ge1980-05-03", []string{a, b}},
			{"birthdate=le1975-12-31", []string{c}},
			{"birthdate=sa1979", []string{a, b}},
			{"birthdate=eb1980", []string{c}},
			{"birthdate=ne1980-05-03", []string{b, c}},
			{"birthdate=ge1980&birthdate=lt1981", []string{a, b}},
			{"phone=555-0101", []string{a}},
			{"email=anna@example.org", []string{a}},
			{"telecom=555-0101", []string{a}},
			{"address=spring", []string{a}},
			{"address=54321", []string{b}},
			{"address-city=shelby", []string{b}},
			{"address-postalcode=123", []string{a}},
			{"address-state=il", []string{a}},
			{"address-country=usa", []string{a}},
			{"_id=" + c, []string{c}},
			{"_id=" + a + "," + c, []string{a, c}},
			{"_lastUpdated=gt2000-01-01", []string{a, b, c}},
			{"_lastUpdated=lt2000-01-01", nil},
		}
		for _, tc := range cases {
			got := ids(search(t, svc, "Patient", tc.query).Matches)
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
				t.Errorf("Patient?%s (-want +got):\n%s", tc.query, diff)
			}
		}
	})
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) })

func TestSearchPagingAndSort(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		var want []string
		for i := 0; i < 25; i++ {
			want = append(want, mustCreate(t, svc, patientJSON(fmt.Sprintf("Page%02d", 24-i), "P", "2000-01-01", fmt.Sprint(i))).ID)
		}
		slices.Reverse(want) // sorted by family ascending
		var got []string
		q := url.Values{"family": {"page"}, "_sort": {"family"}, "_count": {"10"}}
		var prev string
		for pages := 0; ; pages++ {
			_, res, err := svc.Search(context.Background(), "Patient", q, true)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != 25 {
				t.Fatalf("total = %d", res.Total)
			}
			if pages == 1 && res.Prev == "" {
				t.Fatal("second page has no prev link")
			}
			if pages == 1 {
				prev = res.Prev
			}
			got = append(got, ids(res.Matches)...)
			if res.Next == "" {
				break
			}
			q.Set("_cursor", res.Next)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("paged order (-want +got):\n%s", diff)
		}
		q.Set("_cursor", prev)
		_, res, err := svc.Search(context.Background(), "Patient", q, true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[:10], ids(res.Matches)); diff != "" {
			t.Fatalf("prev page (-want +got):\n%s", diff)
		}
		desc := search(t, svc, "Patient", "family=page&_sort=-family&_count=3")
		if diff := cmp.Diff([]string{want[24], want[23], want[22]}, ids(desc.Matches)); diff != "" {
			t.Fatalf("descending (-want +got):\n%s", diff)
		}
		if res := search(t, svc, "Patient", "family=page&_summary=count"); res.Total != 25 || len(res.Matches) != 0 {
			t.Fatalf("_summary=count: %d %d", res.Total, len(res.Matches))
		}
	})
}

func TestIncludeRevinclude(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		p1 := mustCreate(t, svc, patientJSON("Inc", "One", "1990-01-01", "i1")).ID
		p2 := mustCreate(t, svc, patientJSON("Inc", "Two", "1990-01-01", "i2")).ID
		person := mustCreate(t, svc, fmt.Sprintf(`{"resourceType":"Person","name":[{"family":"Inc"}],
			"link":[{"target":{"reference":"Patient/%s"},"assurance":"level3"},{"target":{"reference":"Patient/%s"}}]}`, p1, p2)).ID
		if got := ids(search(t, svc, "Person", "link=Patient/"+p1).Matches); !slices.Equal(got, []string{person}) {
			t.Fatalf("Person?link = %v", got)
		}
		if got := ids(search(t, svc, "Person", "patient="+p2).Matches); !slices.Equal(got, []string{person}) {
			t.Fatalf("Person?patient = %v", got)
		}
		res := search(t, svc, "Person", "_id="+person+"&_include=Person:link")
		inc := ids(res.Included)
		sort.Strings(inc)
		want := []string{p1, p2}
		sort.Strings(want)
		if !slices.Equal(inc, want) {
			t.Fatalf("_include = %v, want %v", inc, want)
		}
		res = search(t, svc, "Patient", "_id="+p1+"&_revinclude=Person:link")
		if got := ids(res.Included); !slices.Equal(got, []string{person}) {
			t.Fatalf("_revinclude = %v", got)
		}
		loc := mustCreate(t, svc, `{"resourceType":"Location","name":"Main"}`).ID
		alt := mustCreate(t, svc, `{"resourceType":"Location","name":"Main copy"}`).ID
		lk := mustCreate(t, svc, fmt.Sprintf(`{"resourceType":"Linkage","item":[{"type":"source","resource":{"reference":"Location/%s"}},
			{"type":"alternate","resource":{"reference":"Location/%s"}}]}`, loc, alt)).ID
		if got := ids(search(t, svc, "Linkage", "source=Location/"+loc).Matches); !slices.Equal(got, []string{lk}) {
			t.Fatalf("Linkage?source = %v", got)
		}
		if got := ids(search(t, svc, "Linkage", "source=Location/"+alt).Matches); len(got) != 0 {
			t.Fatalf("Linkage?source (alternate) = %v", got)
		}
		if got := ids(search(t, svc, "Linkage", "item=Location/"+alt).Matches); !slices.Equal(got, []string{lk}) {
			t.Fatalf("Linkage?item = %v", got)
		}
	})
}

func TestHistory(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		r := mustCreate(t, svc, patientJSON("Hist", "A", "1990-01-01", "h"))
		for i := 0; i < 3; i++ {
			m := mustDecode(t, string(r.Body))
			if _, err := svc.Update(ctx, "Patient", r.ID, m, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Delete(ctx, "Patient", r.ID); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, svc, patientJSON("Hist", "B", "1990-01-01", "h2"))
		h, err := svc.History(ctx, &registry.HistoryQuery{Type: "Patient", ID: r.ID, Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		if h.Total != 5 || len(h.Versions) != 3 || h.Versions[0].VersionID != 5 || !h.Versions[0].Deleted || h.Next == "" {
			t.Fatalf("instance history: total %d, %d versions, first v%d", h.Total, len(h.Versions), h.Versions[0].VersionID)
		}
		h2, err := svc.History(ctx, &registry.HistoryQuery{Type: "Patient", ID: r.ID, Count: 3, Page: h.Next})
		if err != nil || len(h2.Versions) != 2 || h2.Versions[1].VersionID != 1 {
			t.Fatalf("page 2: %v %d", err, len(h2.Versions))
		}
		th, err := svc.History(ctx, &registry.HistoryQuery{Type: "Patient", Count: 100})
		if err != nil || th.Total != 6 {
			t.Fatalf("type history: %v total %d", err, th.Total)
		}
		since := h.Versions[0].LastUpdated
		sh, err := svc.History(ctx, &registry.HistoryQuery{Type: "Patient", Count: 100, Since: since})
		if err != nil || sh.Total != 2 {
			t.Fatalf("_since: %v total %d", err, sh.Total)
		}
		_, err = svc.History(ctx, &registry.HistoryQuery{Type: "Patient", ID: "unknown", Count: 10})
		wantCode(t, err, registry.ENotFound)
	})
}
