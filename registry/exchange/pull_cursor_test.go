package exchange

import (
	"net/http"
	"testing"
	"time"
)

func TestNextCursor(t *testing.T) {
	at := func(s string) time.Time { return parseInstant(s) }
	cases := []struct {
		name, since string
		newest      time.Time
		peerNow     time.Time
		want        string
		ahead       time.Duration
	}{
		{"first pull", "", at("2026-12-07T10:00:00.5Z"), at("2026-12-07T10:00:01Z"), "2026-12-07T10:00:00.5Z", 0},
		{"moves forward", "2026-12-07T10:00:00Z", at("2026-12-07T10:00:05Z"), at("2026-12-07T10:00:09Z"), "2026-12-07T10:00:05Z", 0},
		{"never back", "2026-12-07T10:00:05Z", at("2026-12-07T10:00:01Z"), at("2026-12-07T10:00:09Z"), "2026-12-07T10:00:05Z", 0},
		{"nothing seen", "2026-12-07T10:00:05Z", time.Time{}, at("2026-12-07T10:00:09Z"), "2026-12-07T10:00:05Z", 0},
		{"record in the peer's future", "", at("2026-12-07T10:03:00Z"), at("2026-12-07T10:00:00Z"), "2026-12-07T10:00:00Z", 3 * time.Minute},
		{"same second as Date", "", at("2026-12-07T10:00:00.7Z"), at("2026-12-07T10:00:00Z"), "2026-12-07T10:00:00.7Z", 0},
		{"no Date header", "", at("2026-12-07T10:03:00Z"), time.Time{}, "2026-12-07T10:03:00Z", 0},
	}
	for _, c := range cases {
		got, ahead := nextCursor(c.since, c.newest, c.peerNow)
		if got != c.want || ahead != c.ahead {
			t.Errorf("%s: nextCursor = %q, %v; want %q, %v", c.name, got, ahead, c.want, c.ahead)
		}
	}
}

func TestLaterInstant(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"2026-12-07T10:00:05Z", "", true},
		{"", "", false},
		{"2026-12-07T10:00:05.5Z", "2026-12-07T10:00:05Z", true}, // as text "…05Z" sorts after "…05.5Z"
		{"2026-12-07T10:00:05Z", "2026-12-07T10:00:05.5Z", false},
		{"2026-12-07T11:00:05+01:00", "2026-12-07T10:00:04Z", true},
	}
	for _, c := range cases {
		if got := laterInstant(c.a, c.b); got != c.want {
			t.Errorf("laterInstant(%q, %q) = %v", c.a, c.b, got)
		}
	}
	h := http.Header{"Date": {"Mon, 07 Dec 2026 10:00:00 GMT"}}
	if got := peerClock(h); !got.Equal(parseInstant("2026-12-07T10:00:00Z")) {
		t.Errorf("peerClock = %v", got)
	}
	if !peerClock(http.Header{}).IsZero() {
		t.Error("peerClock without Date is not zero")
	}
}
