package sqlstore

import (
	"context"
	"strings"

	"idem/registry"
)

// A version replacing a written one mostly keeps its search values: a
// golden record is rewritten each time a record joins it, and its names,
// birth date and identifiers rarely change with it. Deleting every
// written search row of the old version and inserting the new version's
// was a third of a linked write's index work, each row twice (the table
// and its rid index). So for a resource rewritten with new search values,
// flush reads its written rows, deletes only those the new version lacks,
// and inserts only those it adds.

// searchTables are the search index tables diffed this way.
var searchTables = map[string]bool{"idx_string": true, "idx_token": true, "idx_date": true, "idx_ref": true}

// writtenRows are search rows already in the database, kept by the new
// versions: flush does not insert them again.
type writtenRows struct {
	strs  map[stringRow]bool
	toks  map[tokenRow]bool
	dates map[dateRow]bool
	refs  map[refRow]bool
}

// diffSearch brings the written search rows of rids (resources rewritten
// in this transaction, their new rows in index) to their new versions'
// rows: it deletes the rows the new versions lack and records in have the
// rows they keep.
func (t *tx) diffSearch(ctx context.Context, rids []int64, index map[int64]*registry.Index, have *writtenRows) error {
	if len(rids) == 0 {
		return nil
	}
	if have.strs == nil {
		have.strs, have.toks, have.dates, have.refs = map[stringRow]bool{}, map[tokenRow]bool{}, map[dateRow]bool{}, map[refRow]bool{}
	}
	want := writtenRows{strs: map[stringRow]bool{}, toks: map[tokenRow]bool{}, dates: map[dateRow]bool{}, refs: map[refRow]bool{}}
	for _, rid := range rids {
		ix := index[rid]
		for _, k := range ix.Strings {
			want.strs[stringRow{rid, k}] = true
		}
		for _, k := range ix.Tokens {
			want.toks[tokenRow{rid, k}] = true
		}
		for _, k := range ix.Dates {
			want.dates[dateRow{rid, k}] = true
		}
		for _, k := range ix.Refs {
			want.refs[refRow{rid, k}] = true
		}
	}
	in := `rid IN ` + placeholders(len(rids))
	args := int64Args(rids)
	var gone [][]any // table's delete statement, then its values
	err := t.scanRows(ctx, `SELECT rid, param, norm, exact FROM idx_string WHERE `+in, args, func(scan func(...any) error) error {
		var r stringRow
		if err := scan(&r.rid, &r.Param, &r.Norm, &r.Exact); err != nil {
			return err
		}
		if want.strs[r] {
			have.strs[r] = true
		} else {
			gone = append(gone, []any{deleteString, r.rid, r.Param, r.Norm, r.Exact})
		}
		return nil
	})
	if err == nil {
		err = t.scanRows(ctx, `SELECT rid, param, system, code FROM idx_token WHERE `+in, args, func(scan func(...any) error) error {
			var r tokenRow
			if err := scan(&r.rid, &r.Param, &r.System, &r.Code); err != nil {
				return err
			}
			if want.toks[r] {
				have.toks[r] = true
			} else {
				gone = append(gone, []any{deleteToken, r.rid, r.Param, r.System, r.Code})
			}
			return nil
		})
	}
	if err == nil {
		err = t.scanRows(ctx, `SELECT rid, param, lo, hi FROM idx_date WHERE `+in, args, func(scan func(...any) error) error {
			var r dateRow
			if err := scan(&r.rid, &r.Param, &r.Lo, &r.Hi); err != nil {
				return err
			}
			if want.dates[r] {
				have.dates[r] = true
			} else {
				gone = append(gone, []any{deleteDate, r.rid, r.Param, r.Lo, r.Hi})
			}
			return nil
		})
	}
	if err == nil {
		err = t.scanRows(ctx, `SELECT rid, param, target FROM idx_ref WHERE `+in, args, func(scan func(...any) error) error {
			var r refRow
			if err := scan(&r.rid, &r.Param, &r.Target); err != nil {
				return err
			}
			if want.refs[r] {
				have.refs[r] = true
			} else {
				gone = append(gone, []any{deleteRef, r.rid, r.Param, r.Target})
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	// One statement per table for the rows gone (a round trip each on
	// PostgreSQL), by every column.
	byTable := map[string][]any{}
	var order []string
	for _, g := range gone {
		table := g[0].(string)
		if byTable[table] == nil {
			order = append(order, table)
		}
		byTable[table] = append(byTable[table], g[1:]...)
	}
	for _, table := range order {
		vals := byTable[table]
		width := len(searchColumns[table])
		for start := 0; start < len(vals); start += width * maxChunk {
			part := vals[start:min(start+width*maxChunk, len(vals))]
			q := `DELETE FROM ` + table + ` WHERE (` + strings.Join(searchColumns[table], ", ") + `) IN (` +
				strings.TrimSuffix(strings.Repeat(rowPlaceholder(width)+", ", len(part)/width), ", ") + `)`
			if err := t.conn.exec(ctx, q, part...); err != nil {
				return err
			}
		}
	}
	return nil
}

// searchColumns are each search table's columns, in the order diffSearch
// lists a row's values.
var searchColumns = map[string][]string{
	deleteString: {"rid", "param", "norm", "exact"},
	deleteToken:  {"rid", "param", "system", "code"},
	deleteDate:   {"rid", "param", "lo", "hi"},
	deleteRef:    {"rid", "param", "target"},
}

// The search tables, as diffSearch names a row's table.
const (
	deleteString = "idx_string"
	deleteToken  = "idx_token"
	deleteDate   = "idx_date"
	deleteRef    = "idx_ref"
)

func rowPlaceholder(width int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
}

// scanRows runs query and calls each on every row with its Scan.
func (t *tx) scanRows(ctx context.Context, query string, args []any, each func(scan func(...any) error) error) error {
	rs, err := t.conn.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := each(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}

// drop leaves out of the rows to insert those already written.
func (have *writtenRows) drop(strs []stringRow, toks []tokenRow, dates []dateRow, refs []refRow) ([]stringRow, []tokenRow, []dateRow, []refRow) {
	if have.strs == nil {
		return strs, toks, dates, refs
	}
	return without(strs, have.strs), without(toks, have.toks), without(dates, have.dates), without(refs, have.refs)
}

func without[R comparable](rows []R, have map[R]bool) []R {
	if len(have) == 0 {
		return rows
	}
	out := rows[:0]
	for _, r := range rows {
		if !have[r] {
			out = append(out, r)
		}
	}
	return out
}
