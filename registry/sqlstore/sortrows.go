package sqlstore

import (
	"cmp"
	"slices"
)

// The index rows of a flush are written in the order of the SQLite lookup
// keys (param, value..., rid): neighbouring inserts then land on the same
// B-tree pages instead of one random page each, which is most of the cost of
// a bulk load.

func stringValues(rows []stringRow) []any {
	slices.SortFunc(rows, func(a, b stringRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Norm, b.Norm), cmp.Compare(a.Exact, b.Exact), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		out = append(out, r.rid, r.Param, r.Norm, r.Exact)
	}
	return out
}

func tokenValues(rows []tokenRow) []any {
	slices.SortFunc(rows, func(a, b tokenRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Code, b.Code), cmp.Compare(a.System, b.System), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		out = append(out, r.rid, r.Param, r.System, r.Code)
	}
	return out
}

func dateValues(rows []dateRow) []any {
	slices.SortFunc(rows, func(a, b dateRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		out = append(out, r.rid, r.Param, r.Lo, r.Hi)
	}
	return out
}

func refValues(rows []refRow) []any {
	slices.SortFunc(rows, func(a, b refRow) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Target, b.Target), cmp.Compare(a.rid, b.rid))
	})
	out := make([]any, 0, 3*len(rows))
	for _, r := range rows {
		out = append(out, r.rid, r.Param, r.Target)
	}
	return out
}

func keyValues(rows []keyRow) []any {
	slices.SortFunc(rows, func(a, b keyRow) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.rid, b.rid)) })
	out := make([]any, 0, 2*len(rows))
	for _, r := range rows {
		out = append(out, r.rid, r.key)
	}
	return out
}
