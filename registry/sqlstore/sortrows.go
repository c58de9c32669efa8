package sqlstore

import (
	"cmp"
	"slices"
)

// The index rows of a flush are written in the order of the SQLite lookup
// keys (param, value..., rid): neighbouring inserts then land on the same
// B-tree pages instead of one random page each, which is most of the cost of
// a bulk load.

func (p *pending) stringValues() []any {
	slices.SortFunc(p.strings, func(a, b stringRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Norm, b.Norm), cmp.Compare(a.Exact, b.Exact), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(p.strings))
	for _, r := range p.strings {
		out = append(out, r.rid, r.Param, r.Norm, r.Exact)
	}
	return out
}

func (p *pending) tokenValues() []any {
	slices.SortFunc(p.tokens, func(a, b tokenRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Code, b.Code), cmp.Compare(a.System, b.System), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(p.tokens))
	for _, r := range p.tokens {
		out = append(out, r.rid, r.Param, r.System, r.Code)
	}
	return out
}

func (p *pending) dateValues() []any {
	slices.SortFunc(p.dates, func(a, b dateRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(p.dates))
	for _, r := range p.dates {
		out = append(out, r.rid, r.Param, r.Lo, r.Hi)
	}
	return out
}

func (p *pending) refValues() []any {
	slices.SortFunc(p.refs, func(a, b refRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Target, b.Target), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 3*len(p.refs))
	for _, r := range p.refs {
		out = append(out, r.rid, r.Param, r.Target)
	}
	return out
}

func (p *pending) keyValues() []any {
	slices.SortFunc(p.keys, func(a, b keyRow) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.rid, b.rid)) })
	out := make([]any, 0, 2*len(p.keys))
	for _, r := range p.keys {
		out = append(out, r.rid, r.key)
	}
	return out
}
