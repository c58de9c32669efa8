package sqlstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

var _ registry.MatchStore = (*Store)(nil)

// Candidates returns the current resources of typ sharing a blocking key
// with the record being matched. Each key reads at most KeyCap+1 index
// entries, so an over-shared key (a placeholder name, 1900-01-01) costs a
// bounded time and is reported rather than silently used or dropped. The
// records sharing usable keys are ranked by registry.BlockingWeight from
// the index alone, and only the best q.Max are read: their bodies are what
// costs.
func (s *Store) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	return candidates(s.read.WithContext(ctx), typ, q)
}

// Candidates is Store.Candidates seeing the transaction's own writes. On
// PostgreSQL it first takes a transaction-scoped advisory lock per key, so
// two transactions matching the same new entity run one after the other:
// under READ COMMITTED the second one's candidate query, a new statement,
// sees what the first committed. SQLite has one writer: nothing to lock.
func (t *tx) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	db := t.db.WithContext(ctx)
	if t.conn.pg {
		if err := lockKeys(db, q.Keys); err != nil {
			return nil, err
		}
	}
	return candidates(db, typ, q)
}

// lockKeys takes an advisory lock on a 64-bit hash of each key. The hashes
// are taken in ascending order, so transactions sharing keys queue rather
// than deadlock (two keys with the same hash are one lock: re-taking it in
// the same transaction does not wait).
func lockKeys(db *gorm.DB, keys []string) error {
	hashes := make([]int64, 0, len(keys))
	for _, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(k))
		hashes = append(hashes, int64(h.Sum64()))
	}
	slices.Sort(hashes)
	for _, h := range slices.Compact(hashes) {
		if err := db.Exec(`SELECT pg_advisory_xact_lock(?)`, h).Error; err != nil {
			return err
		}
	}
	return nil
}

// candidates ranks and reads the candidates on db, the reader pool or a
// write transaction.
func candidates(db *gorm.DB, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	out := &registry.CandidateSet{}
	if len(q.Keys) == 0 {
		return out, nil
	}
	// One statement reads every key's entries, each up to KeyCap+1.
	var sb strings.Builder
	args := make([]any, 0, 2*len(q.Keys))
	for i, k := range q.Keys {
		if i > 0 {
			sb.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&sb, "SELECT %d AS k, rid FROM (SELECT rid FROM idx_match WHERE key = ? LIMIT ?) AS t%d", i, i)
		args = append(args, k, q.KeyCap+1)
	}
	rows, err := db.Raw(sb.String(), args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := make([][]int64, len(q.Keys))
	for rows.Next() {
		var k int
		var rid int64
		if err := rows.Scan(&k, &rid); err != nil {
			return nil, err
		}
		held[k] = append(held[k], rid)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	score := map[int64]float64{}
	for i, rids := range held {
		if len(rids) > q.KeyCap {
			out.Capped = append(out.Capped, q.Keys[i])
			continue
		}
		w := registry.BlockingWeight(len(rids), q.KeyCap)
		for _, rid := range rids {
			score[rid] += w
		}
	}
	if len(score) == 0 {
		return out, nil
	}
	best := registry.TopCandidates(score, q.Max)
	out.Skipped = len(score) - len(best)
	found, err := scanResources(db.Raw(selectCurrent+` WHERE r.pk IN ? AND r.type || '' = ? AND r.deleted = ?`, best, typ, false))
	if err != nil {
		return nil, err
	}
	rank := make(map[int64]int, len(best))
	for i, rid := range best {
		rank[rid] = i
	}
	slices.SortFunc(found, func(a, b row) int { return rank[a.pk] - rank[b.pk] })
	out.Found = make([]*registry.Resource, len(found))
	for i, r := range found {
		out.Found[i] = r.res
	}
	return out, nil
}

// CountValues counts resources per folded value of a string parameter.
func (s *Store) CountValues(ctx context.Context, param *registry.SearchParam, values []string) (map[string]int, error) {
	db := s.read.WithContext(ctx)
	counts := make(map[string]int, len(values))
	for _, v := range values {
		var n int
		if err := db.Raw(`SELECT COUNT(DISTINCT rid) FROM idx_string WHERE param IN ? AND norm = ?`, param.Codes, v).Scan(&n).Error; err != nil {
			return nil, err
		}
		counts[v] = n
	}
	return counts, nil
}

// CountResources counts the current resources of typ. It reads the whole
// type's index range, so callers cache it.
func (s *Store) CountResources(ctx context.Context, typ string) (int, error) {
	var total int
	err := s.read.WithContext(ctx).Raw(`SELECT COUNT(*) FROM resources WHERE type = ? AND deleted = ?`, typ, false).Scan(&total).Error
	return total, err
}

// SaveModel stores a new model version.
func (s *Store) SaveModel(ctx context.Context, m *registry.StoredModel) (int64, error) {
	var version int64
	err := s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		if err := t.flush(ctx); err != nil {
			return err
		}
		return t.db.WithContext(ctx).Raw(`INSERT INTO match_models (created, note, body) VALUES (?, ?, ?) RETURNING version`,
			m.Created.UnixMicro(), m.Note, m.Body).Scan(&version).Error
	})
	return version, err
}

// LatestModel returns the newest stored model.
func (s *Store) LatestModel(ctx context.Context) (*registry.StoredModel, error) {
	var rows []struct {
		Version int64
		Created int64
		Note    string
		Body    []byte
	}
	err := s.read.WithContext(ctx).Raw(`SELECT version, created, note, body FROM match_models ORDER BY version DESC LIMIT 1`).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no trained model is stored")
	}
	r := rows[0]
	return &registry.StoredModel{Version: r.Version, Created: time.UnixMicro(r.Created).UTC(), Note: r.Note, Body: r.Body}, nil
}

// SetMatchKeys replaces the blocking keys of current resources of typ.
func (s *Store) SetMatchKeys(ctx context.Context, typ string, keys map[string][]string) error {
	return s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		for id, ks := range keys {
			var rids []int64
			if err := t.db.WithContext(ctx).Raw(`SELECT pk FROM resources WHERE type = ? AND id = ?`, typ, id).Scan(&rids).Error; err != nil {
				return err
			}
			if len(rids) == 0 {
				continue // deleted meanwhile: nothing to key
			}
			if err := t.conn.execPrepared(ctx, deleteByRID("idx_match"), rids[0]); err != nil {
				return err
			}
			for _, k := range ks {
				t.buf.keys = append(t.buf.keys, keyRow{rids[0], k})
			}
		}
		return t.flush(ctx)
	})
}
