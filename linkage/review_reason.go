package linkage

import (
	"context"
	"strings"

	"idem/registry"
)

// ReviewReasons says, for each open review item (by link id), why it is in
// review: taken from the reason of the decision that last changed the link
// (its $mdm-link-history), and the link's own grade when that decision
// gives no more.
func ReviewReasons(ctx context.Context, ls registry.LinkStore, links []*registry.Link) (map[int64]string, error) {
	out := make(map[int64]string, len(links))
	if len(links) == 0 {
		return out, nil
	}
	var sources []string
	for _, k := range links {
		sources = append(sources, k.SourceID)
	}
	events, err := ls.LinkHistory(ctx, nil, sources)
	if err != nil {
		return nil, err
	}
	last := map[int64]string{} // link id → reason of its latest event
	for _, e := range events {
		last[e.Link.ID] = e.Reason
	}
	for _, k := range links {
		out[k.ID] = ReviewReason(k, last[k.ID])
	}
	return out, nil
}

// ReviewReason is why link k waits for a steward, given the reason of the
// decision that made it ("certain match to Person/1; certain match to 2
// golden records — proposed as duplicates").
func ReviewReason(k *registry.Link, decided string) string {
	var why []string
	for _, part := range strings.Split(decided, "; ") {
		if strings.Contains(part, "golden records — proposed as duplicates") || strings.Contains(part, "already holds") ||
			strings.Contains(part, "conflicting enterprise identifier") {
			why = append(why, part)
		}
	}
	if len(why) > 0 {
		return strings.Join(why, "; ")
	}
	switch {
	case k.MatchResult == registry.MatchResultPossibleDuplicate && k.Score > 0:
		return "the golden records' records match (" + gradeOr(k.Grade, "scored") + "): proposed as duplicates"
	case k.MatchResult == registry.MatchResultPossibleDuplicate:
		return "proposed as duplicates"
	case k.Grade != "":
		return k.Grade + " match"
	case decided != "":
		return decided
	}
	return "sent to review"
}

func gradeOr(grade, alt string) string {
	if grade != "" {
		return grade
	}
	return alt
}
