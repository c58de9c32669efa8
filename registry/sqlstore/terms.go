package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
)

// Term counts: how many current versions hold each term key (the values
// whose frequencies scoring asks for). A version's term keys are kept in
// its match_records row; the counts change by +1 for each key of a row
// written and -1 for each key of a row deleted (the DELETE returns them),
// summed over the transaction and written once per key at flush, so a
// Bundle of a thousand Patients in one town updates the town's count once.

// deleteRecord deletes one version's match record and returns its terms.
const deleteRecord = `DELETE FROM match_records WHERE rid = ? RETURNING terms`

// termSep separates the term keys of a version in match_records.terms;
// keys are normalised values, which hold no newline.
const termSep = "\n"

func joinTerms(keys []string) any {
	if len(keys) == 0 {
		return nil
	}
	return strings.Join(keys, termSep)
}

// countTerms adds n to the pending count of each key.
func (t *tx) countTerms(keys []string, n int) {
	if len(keys) == 0 {
		return
	}
	if t.terms == nil {
		t.terms = map[string]int{}
	}
	for _, k := range keys {
		t.terms[k] += n
	}
}

// dropRecords runs a DELETE … RETURNING terms on match_records and counts
// the deleted versions' term keys out.
func (t *tx) dropRecords(ctx context.Context, query string, args ...any) error {
	return t.deleteReturning(ctx, query, args, func(terms sql.NullString) {
		if terms.Valid && terms.String != "" {
			t.countTerms(strings.Split(terms.String, termSep), -1)
		}
	})
}

// deleteReturning runs a DELETE … RETURNING of one text column and calls
// fn with each value: prepared when it is one of the write path's
// statements (deleteRecord, deleteKeys), as given otherwise (a chunk of
// rids of its own length).
func (t *tx) deleteReturning(ctx context.Context, query string, args []any, fn func(sql.NullString)) error {
	var rs *sql.Rows
	var err error
	if query == deleteRecord || query == deleteKeys {
		st, perr := t.conn.prepared(ctx, query)
		if perr != nil {
			return perr
		}
		rs, err = st.QueryContext(ctx, args...)
	} else {
		rs, err = t.conn.pool.QueryContext(ctx, t.conn.rebind(query), args...)
	}
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var v sql.NullString
		if err := rs.Scan(&v); err != nil {
			return err
		}
		fn(v)
	}
	return rs.Err()
}

// writeTerms writes the pending count changes, in sorted key order (two
// PostgreSQL transactions updating the same counts lock them in one order).
func (t *tx) writeTerms(ctx context.Context) error {
	if len(t.terms) == 0 {
		return nil
	}
	keys := make([]string, 0, len(t.terms))
	for k, n := range t.terms {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	vals := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		vals = append(vals, k, t.terms[k])
	}
	t.terms = nil
	for start := 0; start < len(keys); {
		n := maxChunk
		for n > len(keys)-start {
			n /= 2
		}
		if err := t.conn.execPrepared(ctx, upsertTerms(n), vals[2*start:2*(start+n)]...); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// upsertTerms adds to the counts of n keys.
func upsertTerms(n int) string {
	return insertSQL("term_counts (key, n)", 2, n, false) +
		` ON CONFLICT (key) DO UPDATE SET n = term_counts.n + excluded.n`
}

// termStatements are upsertTerms' shapes, prepared with the write path's.
func termStatements() []string {
	var qs []string
	for n := 1; n <= maxChunk; n *= 2 {
		qs = append(qs, upsertTerms(n))
	}
	return qs
}

// termMigration keeps each version's term keys beside its match record and
// their counts. Records stored before it have none: `idem reindex` counts
// them (until then their values have no term frequency, and scoring uses
// the rules' u).
var termMigration = migration{
	sqlite: []string{
		`ALTER TABLE match_records ADD COLUMN terms TEXT`,
		`CREATE TABLE term_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
	},
	postgres: []string{
		`ALTER TABLE match_records ADD COLUMN terms TEXT`,
		`CREATE TABLE term_counts (key TEXT COLLATE "C" PRIMARY KEY, n BIGINT NOT NULL)`,
	},
}

// CountTerms reads how many current versions hold each term key, in
// queries of up to 500 keys.
func (s *Store) CountTerms(ctx context.Context, keys []string) (map[string]int, error) {
	counts := make(map[string]int, len(keys))
	db := s.read.WithContext(ctx)
	for len(keys) > 0 {
		part := keys[:min(len(keys), 500)]
		keys = keys[len(part):]
		rs, err := db.Raw(`SELECT key, n FROM term_counts WHERE key IN ?`, part).Rows()
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var k string
			var n int
			if err := rs.Scan(&k, &n); err != nil {
				rs.Close()
				return nil, err
			}
			if n > 0 {
				counts[k] = n
			}
		}
		if err := rs.Close(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}
