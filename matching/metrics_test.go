package matching

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/adrg/strutil"
	"github.com/adrg/strutil/metrics"
	"github.com/xrash/smetrics"
)

// TestJaroWinklerReference checks the textbook values (Winkler 1990 and the
// jellyfish reference table), including MACDONALD/MCDONALD where strutil's
// variant gives 0.892.
func TestJaroWinklerReference(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961},
		{"dwayne", "duane", 0.840},
		{"dixon", "dicksonx", 0.813},
		{"william", "williams", 0.975},
		{"jaz", "jal", 0.822},
		{"a", "ab", 0.850},
		{"aaaa", "aaaaa", 0.960},
		{"012abc", "013abcd", 0.879},
		{"a1bc", "a1be", 0.883},
		{"macdonald", "mcdonald", 0.967},
		{"abc", "xyz", 0},
		{"", "foo", 0},
		{"a", "a", 1},
	}
	for _, tt := range tests {
		got := jaroWinkler([]rune(tt.a), []rune(tt.b))
		if math.Abs(got-tt.want) > 0.0005 {
			t.Errorf("jaroWinkler(%q, %q) = %.4f, want %.3f", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestJaroWinklerAgreesWithSmetrics cross-checks random ASCII names against
// smetrics, the textbook implementation deps.md measured.
func TestJaroWinklerAgreesWithSmetrics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		a, b := randomWord(r, "abcde"), randomWord(r, "abcde")
		got := jaroWinkler([]rune(a), []rune(b))
		want := smetrics.JaroWinkler(a, b, 0.7, 4)
		// smetrics floors odd half-transposition counts; allow that difference
		if math.Abs(got-want) > 0.06 {
			t.Fatalf("jaroWinkler(%q, %q) = %.4f, smetrics %.4f", a, b, got, want)
		}
	}
}

func TestEditDistancesReference(t *testing.T) {
	tests := []struct {
		a, b     string
		lev, osa int
		oneTypo  bool
	}{
		{"kitten", "sitting", 3, 3, false},
		{"flaw", "lawn", 2, 2, false},
		{"saturday", "sunday", 3, 3, false},
		{"ca", "abc", 3, 3, false},
		{"smith", "smtih", 2, 1, true},
		{"smith", "smith", 0, 0, false},
		{"smith", "smyth", 1, 1, true},
		{"smith", "smiths", 1, 1, true},
		{"smith", "mith", 1, 1, true},
		{"", "ab", 2, 2, false},
		{"19700312", "19700321", 2, 1, true},
		{"ab", "ba", 2, 1, true},
	}
	lev := metrics.NewLevenshtein()
	for _, tt := range tests {
		a, b := []rune(tt.a), []rune(tt.b)
		if got := levenshtein(a, b); got != tt.lev {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.lev)
		}
		if got := lev.Distance(tt.a, tt.b); got != tt.lev {
			t.Errorf("strutil Levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.lev)
		}
		if got := osa(a, b); got != tt.osa {
			t.Errorf("osa(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.osa)
		}
		if got := oneTypo(tt.a, tt.b); got != tt.oneTypo {
			t.Errorf("oneTypo(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.oneTypo)
		}
	}
}

// TestOneTypoMatchesOSA checks the linear one-typo test against the full
// optimal-string-alignment distance.
func TestOneTypoMatchesOSA(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		a, b := randomWord(r, "abc"), randomWord(r, "abc")
		want := osa([]rune(a), []rune(b)) == 1
		if got := oneTypo(a, b); got != want {
			t.Fatalf("oneTypo(%q, %q) = %v, osa says %v", a, b, got, want)
		}
	}
}

func TestQgramReference(t *testing.T) {
	tests := []struct {
		a, b          string
		dice, jaccard float64
	}{
		{"night", "nacht", 0.25, 1.0 / 7},
		{"context", "contact", 0.5, 1.0 / 3},
		{"aa", "aaa", 2.0 / 3, 0.5}, // multisets: "aa" once against twice
		{"ab", "ab", 1, 1},
		{"a", "b", 0, 0},
	}
	for _, tt := range tests {
		ga, gb := bigrams([]rune(tt.a)), bigrams([]rune(tt.b))
		if got := dice(ga, gb); math.Abs(got-tt.dice) > 1e-9 {
			t.Errorf("dice(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.dice)
		}
		if got := jaccard(ga, gb); math.Abs(got-tt.jaccard) > 1e-9 {
			t.Errorf("jaccard(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.jaccard)
		}
	}
}

// TestQgramAgreesWithStrutil cross-checks the allocation-free coefficients
// against strutil's bigram Jaccard and Sorensen-Dice on random strings.
func TestQgramAgreesWithStrutil(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	jm, dm := metrics.NewJaccard(), metrics.NewSorensenDice()
	for range 5000 {
		a, b := randomWord(r, "abcd "), randomWord(r, "abcd ")
		if len(a) < 2 || len(b) < 2 {
			continue
		}
		ga, gb := bigrams([]rune(a)), bigrams([]rune(b))
		if got, want := jaccard(ga, gb), strutil.Similarity(a, b, jm); math.Abs(got-want) > 1e-9 {
			t.Fatalf("jaccard(%q, %q) = %.4f, strutil %.4f", a, b, got, want)
		}
		if got, want := dice(ga, gb), strutil.Similarity(a, b, dm); math.Abs(got-want) > 1e-9 {
			t.Fatalf("dice(%q, %q) = %.4f, strutil %.4f", a, b, got, want)
		}
	}
}

func randomWord(r *rand.Rand, alphabet string) string {
	b := make([]byte, r.IntN(9))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Reference implementations: the scoring path uses the linear oneTypo test;
// these full edit distances check it and document the metrics.

// osa returns the optimal-string-alignment distance (Levenshtein with
// adjacent transpositions counted as one edit) of two strings of at most
// maxRunes runes each; longer inputs are cut.
func osa(a, b []rune) int {
	a, b = a[:min(len(a), maxRunes)], b[:min(len(b), maxRunes)]
	var rows [3][maxRunes + 1]int // two rows back are needed for transpositions
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := range len(b) + 1 {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// levenshtein returns the Levenshtein distance (insertions, deletions,
// substitutions) of two strings of at most maxRunes runes each.
func levenshtein(a, b []rune) int {
	a, b = a[:min(len(a), maxRunes)], b[:min(len(b), maxRunes)]
	var rows [2][maxRunes + 1]int
	prev, cur := &rows[0], &rows[1]
	for j := range len(b) + 1 {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
