package linkage

import (
	"testing"

	"idem/registry"
)

// The reason a decision records and the reason each review item shows.
func TestReviewReason(t *testing.T) {
	certain := &decision{golden: "Person/a", best: Candidate{}}
	conflict := &decision{golden: "Person/c", conflict: true}
	for _, tc := range []struct {
		name            string
		why             reviewWhy
		certain, review []*decision
		golden          string
		link            registry.Link
		decided, shown  string
	}{
		{name: "two certain homes", why: reviewWhy{duplicates: 2}, certain: []*decision{certain}, review: []*decision{{golden: "Person/b"}}, golden: "Person/a",
			link:    registry.Link{MatchResult: registry.MatchResultPossible, Grade: "certain"},
			decided: "certain match to Person/a; certain match to 2 golden records — proposed as duplicates",
			shown:   "certain match to 2 golden records — proposed as duplicates"},
		{name: "conflicting enterprise identifier", review: []*decision{conflict}, golden: "Person/n",
			link:    registry.Link{MatchResult: registry.MatchResultPossible, Grade: "probable"},
			decided: "uncertain matches: own golden record, candidates for review; conflicting enterprise identifier",
			shown:   "conflicting enterprise identifier"},
		{name: "probable", review: []*decision{{golden: "Person/b"}}, golden: "Person/n",
			link:    registry.Link{MatchResult: registry.MatchResultPossible, Grade: "probable"},
			decided: "uncertain matches: own golden record, candidates for review", shown: "probable match"},
		{name: "duplicate Persons", golden: "Person/n",
			link:    registry.Link{MatchResult: registry.MatchResultPossibleDuplicate, Score: 0.97, Grade: "certain"},
			decided: "no match: own golden record", shown: "the golden records' records match (certain): proposed as duplicates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.why.reason(tc.certain, tc.review, tc.golden)
			if got != tc.decided {
				t.Errorf("decision reason %q, want %q", got, tc.decided)
			}
			if shown := ReviewReason(&tc.link, got); shown != tc.shown {
				t.Errorf("review reason %q, want %q", shown, tc.shown)
			}
		})
	}
}
