package registry

import (
	"cmp"
	"context"
	"math"
	"slices"
)

// MatchStore is what the matcher needs from storage beyond the FHIR
// interactions: candidates by blocking key, key counts for term-frequency
// adjustment, and the trained models shared by every instance.
type MatchStore interface {
	// Candidates returns the current resources of typ that share at least
	// one of q.Keys, at most q.Max of them, ranked by BlockingWeight. A key
	// held by more than q.KeyCap resources is not used and is returned in
	// Capped instead, so callers can report it.
	Candidates(ctx context.Context, typ string, q CandidateQuery) (*CandidateSet, error)
	// CountTerms returns how many current resources hold each term key
	// (MatchIndex.Terms): the registry's term frequencies, counted as
	// versions are written, replaced and deleted. A key nobody holds is
	// absent.
	CountTerms(ctx context.Context, keys []string) (counts map[string]int, err error)
	// CountResources returns how many current resources of typ exist.
	CountResources(ctx context.Context, typ string) (int, error)
	// SetMatchIndex replaces the blocking keys, term keys and features of
	// the given current resources of typ (by id), in one transaction; used
	// to re-key after a rules change.
	SetMatchIndex(ctx context.Context, typ string, index map[string]MatchIndex) error
	ModelStore
}

// CandidateQuery asks for the records sharing blocking keys with a record.
type CandidateQuery struct {
	Keys   []string
	KeyCap int // a key shared by more records than this is capped, not used
	Max    int // the most candidates returned, the best ranked
	// Decode, when set, turns a candidate's compact record into the
	// matcher's form. A store that reads a batch's candidates ahead,
	// beside the writer, decodes them there (CandidateSet.Decoded), so
	// the writer only scores them. It is given the candidate's version
	// (Type, ID, VersionID; no Body) too, so a decoder that keeps what it
	// decoded by version need not decode a candidate twice.
	Decode func(r *Resource, rec []byte) (any, error)
}

// MatchIndex is what the matcher keeps beside each stored version: its
// blocking keys, its features in the compact form they are scored from,
// and its term keys, whose counts are the term frequencies.
type MatchIndex struct {
	Keys   []string
	Record []byte
	Terms  []string
}

// CandidateSet is what blocking found.
type CandidateSet struct {
	Found []*Resource // inside a write, a candidate with Records may come without its Body
	// Records holds, beside each of Found, the matcher's compact form of
	// its features (nil where the store has none: written before it kept them).
	Records [][]byte
	// Decoded holds, beside each of Found, its record as the query's
	// Decode made it, where the store decoded it; nil elsewhere.
	Decoded []any
	Capped  []string // keys shared by more than KeyCap records
	Skipped int      // records that shared a key but ranked below Max
}

// BlockingWeight is what sharing a blocking key held by n records (of at
// most keyCap) says about a candidate: one point for the key, plus the bits
// by which it is rarer than the cap. Candidates are ranked by the sum over
// the keys they share, so a record sharing a rare key, or several keys,
// comes before the hundreds that share only a common name. Both the store
// and the evaluation rank with it, so measured blocking recall is what
// KeyCountLimit is how far the store counts the records holding a blocking
// key: exactly up to this many, beyond it as KeyCountLimit+1. A model's
// key cap must stay below it (matching.MaxKeyCap), so a capped key is
// always counted past its cap.
const KeyCountLimit = 10_000

// $match gets.
func BlockingWeight(n, keyCap int) float64 {
	if n < 1 {
		n = 1
	}
	return 1 + math.Log2(float64(keyCap+1)/float64(n))
}

// TopCandidates returns the max keys of score with the highest scores,
// best first; ties go to the larger key (the newer record).
func TopCandidates[K cmp.Ordered](score map[K]float64, max int) []K {
	out := make([]K, 0, len(score))
	for k := range score {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b K) int {
		if c := cmp.Compare(score[b], score[a]); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	if max >= 0 && len(out) > max {
		out = out[:max]
	}
	return out
}
