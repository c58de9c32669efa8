package linkage

import (
	"context"

	"idem/matching"
	"idem/registry"
)

// MaxPairSide bounds the records of each golden record BestPair compares.
const MaxPairSide = 20

// Pair is the best-matching pair of records of two golden records, with
// the model's explanation of its score.
type Pair struct {
	Left, Right string // "Patient/id" each
	Match       *matching.Match
}

// BestPair scores every record of left against every record of right (at
// most MaxPairSide of each, all of one type) with the current model and
// explains the best pair: the evidence for a proposal that two golden
// records are one entity. ENotFound: no two records of one type to score.
func (m *Matcher) BestPair(ctx context.Context, left, right []*registry.Resource) (*Pair, error) {
	model := m.models.Current(ctx)
	tf := m.tf.For(ctx)
	extract := func(rs []*registry.Resource) ([]*matching.Record, error) {
		out := make([]*matching.Record, 0, min(len(rs), MaxPairSide))
		for _, r := range rs[:min(len(rs), MaxPairSide)] {
			body, err := registry.DecodeStored(r)
			if err != nil {
				return nil, err
			}
			out = append(out, matching.Extract(r.Type, body))
		}
		return out, nil
	}
	a, err := extract(left)
	if err != nil {
		return nil, err
	}
	b, err := extract(right)
	if err != nil {
		return nil, err
	}
	best, bi, bj := -1.0, -1, -1
	for i, x := range a {
		for j, y := range b {
			if left[i].Type != right[j].Type {
				continue
			}
			if p := model.Score(x, y, tf); p > best {
				best, bi, bj = p, i, j
			}
		}
	}
	if bi < 0 {
		return nil, registry.Errorf(registry.ENotFound, "no two records of one type to compare")
	}
	return &Pair{Left: left[bi].Type + "/" + left[bi].ID, Right: right[bj].Type + "/" + right[bj].ID,
		Match: model.Explain(a[bi], b[bj], tf)}, nil
}
