package sqlstore

import (
	"context"
	"database/sql"
)

// deleteKeys deletes one version's blocking keys and returns them.
const deleteKeys = `DELETE FROM idx_match WHERE rid = ? RETURNING key`

// PrefetchBlocking reads how many written records hold each key, in one
// query per 500 keys, and keeps the counts for the transaction: a Bundle
// of a thousand records asked once per record before. On PostgreSQL it
// first takes the keys' advisory locks, as Candidates would, so the counts
// include what a concurrent writer of the same keys committed.
func (t *tx) PrefetchBlocking(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if t.conn.pg {
		if t.locked == nil {
			t.locked = map[int64]bool{}
		}
		if err := lockKeys(t.db.WithContext(ctx), keys, t.locked); err != nil {
			return err
		}
	}
	if t.keyCounts == nil {
		t.keyCounts = make(map[string]int, len(keys))
	}
	for len(keys) > 0 {
		part := keys[:min(len(keys), 500)]
		keys = keys[len(part):]
		for _, k := range part {
			t.keyCounts[k] = 0
		}
		rs, err := t.conn.query(ctx, `SELECT key, n FROM match_key_counts WHERE key IN ?`, part)
		if err != nil {
			return err
		}
		for rs.Next() {
			var k string
			var n int
			if err := rs.Scan(&k, &n); err != nil {
				rs.Close()
				return err
			}
			t.keyCounts[k] = n
		}
		if err := rs.Close(); err != nil {
			return err
		}
	}
	return nil
}

// dropKeys runs a DELETE … RETURNING key on idx_match and counts the
// deleted keys out of the prefetched counts.
func (t *tx) dropKeys(ctx context.Context, query string, args ...any) error {
	return t.deleteReturning(ctx, query, args, func(k sql.NullString) {
		if n, ok := t.keyCounts[k.String]; ok {
			t.keyCounts[k.String] = n - 1
		}
	})
}
