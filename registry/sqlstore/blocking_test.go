package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// TestCandidatesRankAsIfEveryKeyWereRead checks the threshold ranking
// against the ranking of reading every entry of every key: records hold
// one common, one middling and one rare key, and the queries mix them,
// inside a write (half of the records unflushed) and outside one.
func TestCandidatesRankAsIfEveryKeyWereRead(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		keysOf := map[string][]string{} // resource id → its keys
		held := map[string][]string{}   // key → ids
		keys := func(typ string, res map[string]any) registry.MatchIndex {
			id := res["identifier"].([]any)[0].(map[string]any)["value"].(string)
			return registry.MatchIndex{Keys: keysOf[id], Record: []byte("record of " + id)}
		}
		svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: keys}}
		create := func(tx registry.Tx, i int) {
			local := fmt.Sprint(i)
			ks := []string{fmt.Sprintf("common:%d", rng.IntN(3)), fmt.Sprintf("mid:%d", rng.IntN(20)), fmt.Sprintf("rare:%d", rng.IntN(200))}
			keysOf[local] = ks
			out, err := svc.CreateTx(ctx, tx, "Patient", fmt.Sprintf("p%03d", i), mustDecode(t, patientJSON("F", "G", "2000-01-01", local)), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				held[k] = append(held[k], out.Resource.ID)
			}
		}
		err := s.Write(ctx, func(tx registry.Tx) error {
			for i := 0; i < 150; i++ {
				create(tx, i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check := func(find func(registry.CandidateQuery) (*registry.CandidateSet, error)) {
			for trial := 0; trial < 40; trial++ {
				q := registry.CandidateQuery{KeyCap: 60 + rng.IntN(60), Max: 1 + rng.IntN(12),
					Keys: []string{fmt.Sprintf("common:%d", rng.IntN(3)), fmt.Sprintf("mid:%d", rng.IntN(20)), fmt.Sprintf("rare:%d", rng.IntN(200)), fmt.Sprintf("rare:%d", rng.IntN(200))}}
				// Errorf and return, not Fatal: check runs inside write
				// transactions, on the store's writer goroutine.
				set, err := find(q)
				if err != nil {
					t.Error(err)
					return
				}
				if got, want := ids(set.Found), naiveRanking(held, q); !slices.Equal(got, want) {
					t.Errorf("query %+v: got %v, want %v", q, got, want)
					return
				}
			}
		}
		check(func(q registry.CandidateQuery) (*registry.CandidateSet, error) {
			return s.Candidates(ctx, "Patient", q)
		})
		err = s.Write(ctx, func(tx registry.Tx) error {
			for i := 150; i < 300; i++ {
				create(tx, i)
			}
			check(func(q registry.CandidateQuery) (*registry.CandidateSet, error) {
				return tx.(registry.Tx).Candidates(ctx, "Patient", q)
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// With the counts prefetched for a batch, kept current while the
		// batch creates records and moves and deletes written ones' keys.
		err = s.Write(ctx, func(tx registry.Tx) error {
			var all []string
			for k := range held {
				all = append(all, k)
			}
			if err := tx.PrefetchBlocking(ctx, all); err != nil {
				return err
			}
			for i := 300; i < 350; i++ {
				create(tx, i)
			}
			// A search in the transaction writes the buffered rows out.
			if _, err := tx.Match(ctx, &registry.Query{Type: "Patient"}, 1); err != nil {
				return err
			}
			for i := 350; i < 400; i++ {
				create(tx, i)
			}
			for i := 0; i < 300; i += 7 {
				id, local := fmt.Sprintf("p%03d", i), fmt.Sprint(i)
				for _, k := range keysOf[local] {
					held[k] = slices.DeleteFunc(held[k], func(x string) bool { return x == id })
				}
				if i%2 == 0 {
					if _, err := svc.DeleteTx(ctx, tx, "Patient", id); err != nil {
						return err
					}
					continue
				}
				ks := []string{fmt.Sprintf("common:%d", rng.IntN(3)), fmt.Sprintf("mid:%d", rng.IntN(20)), fmt.Sprintf("rare:%d", rng.IntN(200))}
				keysOf[local] = ks
				if _, err := svc.UpdateTx(ctx, tx, "Patient", id, mustDecode(t, patientJSON("F", "H", "2000-01-01", local)), 0); err != nil {
					return err
				}
				for _, k := range ks {
					held[k] = append(held[k], id)
				}
			}
			check(func(q registry.CandidateQuery) (*registry.CandidateSet, error) {
				return tx.(registry.Tx).Candidates(ctx, "Patient", q)
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// With the candidates read ahead (on reader connections beside the
		// writer) before the batch creates records and moves and
		// deletes written ones' keys: the queries answer as if read now.
		var qs []registry.CandidateQuery
		for trial := 0; trial < 40; trial++ {
			qs = append(qs, registry.CandidateQuery{KeyCap: 60 + rng.IntN(60), Max: 1 + rng.IntN(12),
				Keys:   []string{fmt.Sprintf("common:%d", rng.IntN(3)), fmt.Sprintf("mid:%d", rng.IntN(20)), fmt.Sprintf("rare:%d", rng.IntN(200)), fmt.Sprintf("rare:%d", rng.IntN(200))},
				Decode: func(_ *registry.Resource, b []byte) (any, error) { return "decoded " + string(b), nil }})
		}
		decoded := 0
		err = s.Write(ctx, func(tx registry.Tx) error {
			var all []string
			for k := range held {
				all = append(all, k)
			}
			for _, q := range qs {
				all = append(all, q.Keys...) // a batch prefetches its records' keys (linkage.Prepare)
			}
			if err := tx.PrefetchBlocking(ctx, all); err != nil {
				return err
			}
			tx.PrefetchCandidates(ctx, "Patient", qs)
			for i := 400; i < 450; i++ {
				create(tx, i)
			}
			for i := 1; i < 400; i += 5 {
				id, local := fmt.Sprintf("p%03d", i), fmt.Sprint(i)
				if i%7 == 0 {
					continue // deleted above
				}
				for _, k := range keysOf[local] {
					held[k] = slices.DeleteFunc(held[k], func(x string) bool { return x == id })
				}
				if i%3 == 0 {
					if _, err := svc.DeleteTx(ctx, tx, "Patient", id); err != nil {
						return err
					}
					continue
				}
				ks := []string{fmt.Sprintf("common:%d", rng.IntN(3)), fmt.Sprintf("mid:%d", rng.IntN(20)), fmt.Sprintf("rare:%d", rng.IntN(200))}
				keysOf[local] = ks
				if _, err := svc.UpdateTx(ctx, tx, "Patient", id, mustDecode(t, patientJSON("F", "I", "2000-01-01", local)), 0); err != nil {
					return err
				}
				for _, k := range ks {
					held[k] = append(held[k], id)
				}
			}
			for _, q := range qs {
				set, err := tx.Candidates(ctx, "Patient", q)
				if err != nil {
					return err
				}
				if got, want := ids(set.Found), naiveRanking(held, q); !slices.Equal(got, want) {
					t.Errorf("read ahead, query %v: got %v, want %v", q.Keys, got, want)
				}
				// Candidates read ahead come decoded by the query's Decode,
				// each the decoding of its own record.
				for i, d := range set.Decoded {
					if d == nil {
						continue
					}
					decoded++
					if want := "decoded " + string(set.Records[i]); d != want {
						t.Errorf("candidate %s decoded as %v, want %q", set.Found[i].ID, d, want)
					}
				}
			}
			if decoded == 0 {
				t.Error("no candidate read ahead came decoded")
			}
			// A query the batch's writes could re-rank past what was read
			// is read again; most are not.
			if n := sqlstore.ReadAhead(tx); n < len(qs)*3/4 {
				t.Errorf("only %d of %d queries were answered from what was read ahead", n, len(qs))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// naiveRanking ranks by reading every key in full, as the store did before.
func naiveRanking(held map[string][]string, q registry.CandidateQuery) []string {
	score := map[string]float64{}
	pk := map[string]int{}
	for _, k := range q.Keys {
		ids := held[k]
		if len(ids) == 0 || len(ids) > q.KeyCap {
			continue
		}
		for _, id := range ids {
			score[id] += registry.BlockingWeight(len(ids), q.KeyCap)
			var n int
			fmt.Sscanf(id, "p%d", &n)
			pk[id] = n
		}
	}
	// Ties go to the newer record, as TopCandidates does by row key.
	byPK := map[int]float64{}
	for id, s := range score {
		byPK[pk[id]] = s
	}
	var out []string
	for _, n := range registry.TopCandidates(byPK, q.Max) {
		out = append(out, fmt.Sprintf("p%03d", n))
	}
	return out
}

// TestLargeLinkedTransaction: a transaction matching a thousand records,
// each with a dozen blocking keys of its own, stays within PostgreSQL's
// lock table (advisory locks are taken per bucket of keys, not per key).
func TestLargeLinkedTransaction(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: familyKeys}}
		err := s.Write(ctx, func(tx registry.Tx) error {
			for i := 0; i < 1000; i++ {
				keys := make([]string, 12)
				for j := range keys {
					keys[j] = fmt.Sprintf("k:%d:%d", i, j)
				}
				if _, err := tx.Candidates(ctx, "Patient", registry.CandidateQuery{Keys: keys, KeyCap: 100, Max: 50}); err != nil {
					return fmt.Errorf("record %d: %w", i, err)
				}
				if _, err := svc.CreateTx(ctx, tx, "Patient", fmt.Sprintf("big-%d", i), mustDecode(t, patientJSON("F", "G", "2000-01-01", fmt.Sprint(i))), ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestNoReadAheadAfterAnEarlierWriteInTheCommit: SQLite's writer commits
// the requests waiting together; a request after one that wrote sees that
// write, uncommitted, which reader connections cannot. So it must not
// read its candidates ahead: the record the earlier request wrote is found.
func TestNoReadAheadAfterAnEarlierWriteInTheCommit(t *testing.T) {
	ctx := context.Background()
	s := sqltest.Open(t, sqltest.DSN(t, "sqlite"))
	svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: func(string, map[string]any) registry.MatchIndex {
		return registry.MatchIndex{Keys: []string{"k:shared"}}
	}}}
	running, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- s.Write(ctx, func(registry.Tx) error { close(running); <-release; return nil })
	}()
	<-running
	wait := func(n int) {
		for sqlstore.QueuedWrites(s) < n {
			runtime.Gosched()
		}
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go func() {
		first <- s.Write(ctx, func(tx registry.Tx) error {
			_, err := svc.CreateTx(ctx, tx, "Patient", "earlier", mustDecode(t, patientJSON("F", "G", "2000-01-01", "e")), "")
			return err
		})
	}()
	wait(1)
	var found []string
	var ahead int
	go func() {
		second <- s.Write(ctx, func(tx registry.Tx) error {
			q := registry.CandidateQuery{Keys: []string{"k:shared"}, KeyCap: 100, Max: 10}
			if err := tx.PrefetchBlocking(ctx, q.Keys); err != nil {
				return err
			}
			tx.PrefetchCandidates(ctx, "Patient", []registry.CandidateQuery{q})
			set, err := tx.Candidates(ctx, "Patient", q)
			if err != nil {
				return err
			}
			found, ahead = ids(set.Found), sqlstore.ReadAhead(tx)
			return nil
		})
	}()
	wait(2)
	close(release)
	for _, ch := range []chan error{blocked, first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(found, []string{"earlier"}) || ahead != 0 {
		t.Errorf("after an earlier write in the same commit: candidates %v (want [earlier]), %d read ahead (want 0)", found, ahead)
	}
}
