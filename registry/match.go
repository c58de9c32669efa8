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
	// StoredRecords returns up to n current records of typ stored after
	// position after (0: from the first), in the order stored: what a
	// re-match's simulation blocks and scores in memory.
	StoredRecords(ctx context.Context, typ string, after int64, n int) ([]StoredRecord, error)
	ModelStore
}

// StoredRecord is one current record as StoredRecords reads it.
type StoredRecord struct {
	Pos      int64     // its position in the order stored (larger: stored later)
	Resource *Resource // without its Body when it has Record
	Record   []byte    // the matcher's compact form of its features; nil when none is stored
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
	// Lean: the caller scores candidates from their Records alone (as
	// linking does), so a candidate with Records comes without its Body.
	// Inside a write candidates are always lean.
	Lean bool
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

// RankScore is a blocking score as candidates are ranked by it: rounded to
// nine decimals.
func RankScore(s float64) int64 { return int64(math.Round(s * 1e9)) }

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
// best first; ties go to the larger key (the newer record). Scores are
// compared to nine decimals (RankScore): a sum of the same weights added in
// another order may differ in its last bits, and is a tie.
func TopCandidates[K cmp.Ordered](score map[K]float64, max int) []K {
	out := make([]K, 0, len(score))
	for k := range score {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b K) int {
		if c := cmp.Compare(RankScore(score[b]), RankScore(score[a])); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	if max >= 0 && len(out) > max {
		out = out[:max]
	}
	return out
}
