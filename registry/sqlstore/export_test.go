package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"idem/registry"
)

// ReadAhead returns how many Candidates calls of tx were answered from
// candidates read ahead (prefetch.go).
func ReadAhead(t registry.Tx) int { return t.(*tx).aheadHits }

// SearchRows returns the search index rows stored for typ/id, each as
// text, sorted.
func SearchRows(ctx context.Context, s *Store, typ, id string) ([]string, error) {
	var out []string
	err := s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		var rid int64
		rs, err := t.conn.query(ctx, `SELECT pk FROM resources WHERE type = ? AND id = ?`, typ, id)
		if err != nil {
			return err
		}
		for rs.Next() {
			rs.Scan(&rid)
		}
		rs.Close()
		for _, q := range []string{
			`SELECT 's', param, norm || '|' || exact FROM idx_string WHERE rid = ?`,
			`SELECT 't', param, system || '|' || code FROM idx_token WHERE rid = ?`,
			`SELECT 'd', param, CAST(lo AS TEXT) || '|' || CAST(hi AS TEXT) FROM idx_date WHERE rid = ?`,
			`SELECT 'r', param, target FROM idx_ref WHERE rid = ?`,
		} {
			if err := t.scanRows(ctx, q, []any{rid}, func(scan func(...any) error) error {
				var kind, v string
				var param int
				if err := scan(&kind, &param, &v); err != nil {
					return err
				}
				out = append(out, fmt.Sprintf("%s %d %s", kind, param, v))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(out)
	return slices.Compact(out), err
}

// ExtractedRows returns the search index rows of res, as SearchRows shows them.
func ExtractedRows(typ string, res map[string]any) []string {
	ix := registry.Extract(typ, res)
	var out []string
	for _, k := range ix.Strings {
		out = append(out, fmt.Sprintf("s %d %s|%s", k.Param, k.Norm, k.Exact))
	}
	for _, k := range ix.Tokens {
		out = append(out, fmt.Sprintf("t %d %s|%s", k.Param, k.System, k.Code))
	}
	for _, k := range ix.Dates {
		out = append(out, fmt.Sprintf("d %d %d|%d", k.Param, k.Lo, k.Hi))
	}
	for _, k := range ix.Refs {
		out = append(out, fmt.Sprintf("r %d %s", k.Param, k.Target))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueuedWrites returns how many write requests wait for SQLite's writer.
func QueuedWrites(s *Store) int { return len(s.writer.reqs) }

// RunBatch runs fns as one batch of the SQLite writer, as if they had
// been waiting for it together, and returns their answers.
func RunBatch(s *Store, fns ...func(registry.Tx) error) []error {
	batch := make([]*writeReq, len(fns))
	for i, fn := range fns {
		batch[i] = &writeReq{ctx: context.Background(), fn: fn, done: make(chan error, 1)}
	}
	s.writer.run(batch)
	errs := make([]error, len(batch))
	for i, r := range batch {
		errs[i] = <-r.done
	}
	return errs
}
