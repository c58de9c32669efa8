package exchange

import (
	"net/http"
	"time"
)

// The pull cursor is the newest lastUpdated seen on the peer; the next
// pull asks for _since = cursor − overlap and skips what pull_map shows
// applied already (same or older version), so re-reading is harmless.
// The peer's timestamps come from the clocks of its instances, which may
// disagree: a record written by an instance minutes ahead would move the
// cursor past records written afterwards by one that is right, and those
// would never be pulled. Two guards:
//   - the cursor never moves past the peer's own clock as it answered
//     (the HTTP Date header of the first page): a record dated in the
//     answering server's future does not count;
//   - the overlap (Config.PullOverlap, IDEM_PULL_OVERLAP, default 5
//     minutes) covers the skew between the peer's instances when the
//     answering one is itself ahead, and commits that land late.

// DefaultPullOverlap is the history re-read behind the cursor by default.
const DefaultPullOverlap = 5 * time.Minute

// parseInstant reads a stored or received instant; zero if it is none.
func parseInstant(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func formatInstant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// laterInstant reports whether instant a is after instant b ("" is the
// earliest); it compares times, not strings ("…:05Z" sorts after
// "…:05.5Z" as text).
func laterInstant(a, b string) bool {
	if b == "" {
		return a != ""
	}
	return parseInstant(a).After(parseInstant(b))
}

// peerClock reads the Date header of a peer's answer (zero when absent).
func peerClock(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// nextCursor is the cursor after a pull that saw records up to newest
// while the peer's clock read peerNow; it never goes back from since.
// ahead is how far newest was in the peer's future (0: not).
func nextCursor(since string, newest, peerNow time.Time) (cursor string, ahead time.Duration) {
	if !peerNow.IsZero() && newest.After(peerNow) {
		ahead = newest.Sub(peerNow)
		// Date has whole seconds: a record of this very second is not ahead.
		if ahead < time.Second {
			ahead = 0
		} else {
			newest = peerNow
		}
	}
	if newest.IsZero() || !newest.After(parseInstant(since)) {
		return since, ahead
	}
	return formatInstant(newest), ahead
}
