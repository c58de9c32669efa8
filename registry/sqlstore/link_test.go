package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

var linkT0 = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

// mustLinkWrite runs fn in one write transaction through the LinkTx view.
func mustLinkWrite(t testing.TB, s *sqlstore.Store, fn func(ltx registry.Tx) error) {
	t.Helper()
	err := s.Write(context.Background(), func(tx registry.Tx) error { return fn(tx.(registry.Tx)) })
	if err != nil {
		t.Fatal(err)
	}
}

// mustOp stores an op of kind at the given time and returns it.
func mustOp(t testing.TB, s *sqlstore.Store, kind string, at time.Time) *registry.Op {
	t.Helper()
	op := &registry.Op{Kind: kind, Actor: "steward", Reason: "test " + kind, At: at}
	mustLinkWrite(t, s, func(ltx registry.Tx) error { return ltx.AddOp(context.Background(), op) })
	return op
}

// mustPutLinks stores links in one transaction under op.
func mustPutLinks(t testing.TB, s *sqlstore.Store, op *registry.Op, links ...*registry.Link) {
	t.Helper()
	mustLinkWrite(t, s, func(ltx registry.Tx) error {
		for _, l := range links {
			if err := ltx.PutLink(context.Background(), l, op); err != nil {
				return err
			}
		}
		return nil
	})
}

func personLink(golden, source, result string, score float64, created time.Time) *registry.Link {
	return &registry.Link{GoldenType: "Person", GoldenID: golden, SourceType: "Patient", SourceID: source,
		MatchResult: result, LinkSource: registry.LinkSourceAuto, Score: score, Created: created}
}

func sourceIDs(links []*registry.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.SourceID
	}
	return out
}

func TestPutLinkUpserts(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		op1 := mustOp(t, s, "create-link", linkT0)
		first := personLink("g1", "p1", registry.MatchResultPossible, 0.7, time.Time{})
		first.Evidence, first.Grade, first.RuleVersion = []byte(`{"family":1.5}`), "probable", "m1"
		mustPutLinks(t, s, op1, first)
		if first.ID == 0 || !first.Created.Equal(linkT0) || !first.Updated.Equal(linkT0) {
			t.Fatalf("first put: id %d created %v updated %v", first.ID, first.Created, first.Updated)
		}
		op2 := mustOp(t, s, "update-link", linkT0.Add(time.Hour))
		second := personLink("g1", "p1", registry.MatchResultMatch, 0, time.Time{})
		second.LinkSource, second.EIDMatch = registry.LinkSourceManual, true
		mustPutLinks(t, s, op2, second)
		if second.ID != first.ID || !second.Created.Equal(linkT0) || !second.Updated.Equal(op2.At) {
			t.Fatalf("replace: id %d (want %d) created %v updated %v", second.ID, first.ID, second.Created, second.Updated)
		}
		page, err := s.QueryLinks(ctx, registry.LinkFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*registry.Link{second}, page.Links); diff != "" || page.Total != 1 {
			t.Fatalf("total %d, links (-want +got):\n%s", page.Total, diff)
		}
		events, err := s.LinkHistory(ctx, []string{"g1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []*registry.LinkEvent{
			{ID: events[0].ID, OpID: op1.ID, Link: *first, Actor: "steward", Reason: "test create-link", At: op1.At},
			{ID: events[1].ID, OpID: op2.ID, Link: *second, Actor: "steward", Reason: "test update-link", At: op2.At},
		}
		if diff := cmp.Diff(want, events); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	})
}

func TestDeleteLinkRecordsEvent(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		op := mustOp(t, s, "link", linkT0)
		l := personLink("g1", "p1", registry.MatchResultMatch, 0.9, linkT0)
		mustPutLinks(t, s, op, l)
		clear := mustOp(t, s, "clear", linkT0.Add(time.Minute))
		mustLinkWrite(t, s, func(ltx registry.Tx) error {
			if err := ltx.DeleteLink(ctx, &registry.Link{GoldenType: "Person", GoldenID: "g1", SourceType: "Patient", SourceID: "p1"}, clear); err != nil {
				return err
			}
			// Deleting a link that is not there is not an error.
			return ltx.DeleteLink(ctx, &registry.Link{GoldenType: "Person", GoldenID: "g1", SourceType: "Patient", SourceID: "p9"}, clear)
		})
		page, err := s.QueryLinks(ctx, registry.LinkFilter{})
		if err != nil || page.Total != 0 {
			t.Fatalf("links left: %+v %v", page, err)
		}
		events, err := s.LinkHistory(ctx, nil, []string{"p1", "p9"})
		if err != nil {
			t.Fatal(err)
		}
		type summary struct {
			OpID          int64
			LinkID        int64
			Source        string
			Result, Actor string
		}
		var got []summary
		for _, e := range events {
			got = append(got, summary{e.OpID, e.Link.ID, e.Link.Source(), e.Link.MatchResult, e.Actor})
		}
		want := []summary{
			{op.ID, l.ID, "Patient/p1", registry.MatchResultMatch, "steward"},
			{clear.ID, l.ID, "Patient/p1", "", "steward"},
			{clear.ID, 0, "Patient/p9", "", "steward"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	})
}

func TestQueryLinks(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		at := func(n int) time.Time { return linkT0.Add(time.Duration(n) * time.Minute) }
		manual := personLink("g2", "p3", registry.MatchResultPossible, 0, at(3))
		manual.LinkSource = registry.LinkSourceManual
		dup := personLink("g2", "g1", registry.MatchResultPossibleDuplicate, 0.8, at(4))
		dup.SourceType = "Person"
		loc := &registry.Link{GoldenType: "Linkage", GoldenID: "k1", SourceType: "Location", SourceID: "l1",
			MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto, Score: 0.99, Created: at(5)}
		mustPutLinks(t, s, mustOp(t, s, "link", at(0)),
			personLink("g1", "p1", registry.MatchResultMatch, 0.95, at(1)),
			personLink("g1", "p2", registry.MatchResultPossible, 0.7, at(2)),
			manual, dup, loc)
		open := []string{registry.MatchResultPossible, registry.MatchResultPossibleDuplicate}
		for _, tc := range []struct {
			name  string
			f     registry.LinkFilter
			want  []string
			total int
		}{
			{"all, newest first", registry.LinkFilter{}, []string{"l1", "g1", "p3", "p2", "p1"}, 5},
			{"golden", registry.LinkFilter{GoldenType: "Person", GoldenID: "g1"}, []string{"p2", "p1"}, 2},
			{"source", registry.LinkFilter{SourceType: "Patient", SourceID: "p3"}, []string{"p3"}, 1},
			{"source type", registry.LinkFilter{SourceType: "Person"}, []string{"g1"}, 1},
			{"match results", registry.LinkFilter{MatchResult: open}, []string{"g1", "p3", "p2"}, 3},
			{"link source", registry.LinkFilter{LinkSource: registry.LinkSourceManual}, []string{"p3"}, 1},
			{"score range", registry.LinkFilter{MinScore: 0.75, MaxScore: 0.96}, []string{"g1", "p1"}, 2},
			{"created before", registry.LinkFilter{CreatedBefore: at(3)}, []string{"p2", "p1"}, 2},
			{"by score", registry.LinkFilter{SortByScore: true}, []string{"l1", "p1", "g1", "p2", "p3"}, 5},
			{"paged", registry.LinkFilter{SortByScore: true, Offset: 1, Count: 2}, []string{"p1", "g1"}, 5},
			{"offset only", registry.LinkFilter{Offset: 3}, []string{"p2", "p1"}, 5},
			{"past the end", registry.LinkFilter{Offset: 10, Count: 2}, []string{}, 5},
		} {
			page, err := s.QueryLinks(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := sourceIDs(page.Links); !slices.Equal(got, tc.want) || page.Total != tc.total {
				t.Errorf("%s: got %v total %d, want %v total %d", tc.name, got, page.Total, tc.want, tc.total)
			}
		}
		// Inside a transaction: the same selection, by id, paging ignored.
		mustLinkWrite(t, s, func(ltx registry.Tx) error {
			links, err := ltx.Links(ctx, registry.LinkFilter{MatchResult: open, Count: 1, SortByScore: true})
			if got := sourceIDs(links); err != nil || !slices.Equal(got, []string{"p2", "p3", "g1"}) {
				t.Errorf("tx links %v %v", got, err)
			}
			return nil
		})
	})
}

func TestReviewCounts(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		ago := func(d time.Duration) time.Time { return now.Add(-d) }
		day := 24 * time.Hour
		dup := personLink("g2", "g1", registry.MatchResultPossibleDuplicate, 0.8, ago(40*day))
		dup.SourceType = "Person"
		mustPutLinks(t, s, mustOp(t, s, "link", now),
			personLink("g1", "p1", registry.MatchResultPossible, 0.7, ago(time.Hour)),
			personLink("g1", "p2", registry.MatchResultPossible, 0.7, ago(23*time.Hour)),
			personLink("g1", "p3", registry.MatchResultPossible, 0.7, ago(3*day)),
			personLink("g1", "p4", registry.MatchResultPossible, 0.7, ago(10*day)),
			personLink("g1", "p5", registry.MatchResultMatch, 0.9, ago(time.Hour)),
			personLink("g1", "p6", registry.MatchResultNoMatch, 0.1, ago(50*day)),
			dup)
		got, err := s.ReviewCounts(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.ReviewCount{
			{SourceType: "Patient", MatchResult: registry.MatchResultPossible, Age: "<1d", Items: 2},
			{SourceType: "Patient", MatchResult: registry.MatchResultPossible, Age: "1-7d", Items: 1},
			{SourceType: "Patient", MatchResult: registry.MatchResultPossible, Age: "7-30d", Items: 1},
			{SourceType: "Person", MatchResult: registry.MatchResultPossibleDuplicate, Age: ">30d", Items: 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("review counts (-want +got):\n%s", diff)
		}
	})
}

func TestOpsUndo(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		merge := &registry.Op{Kind: "merge", Actor: "ann", Reason: "same person", At: linkT0, Before: []byte(`{"links":[]}`)}
		mustLinkWrite(t, s, func(ltx registry.Tx) error { return ltx.AddOp(ctx, merge) })
		undo := &registry.Op{Kind: "undo", Actor: "bob", At: linkT0.Add(time.Hour), Undoes: merge.ID}
		mustLinkWrite(t, s, func(ltx registry.Tx) error {
			if err := ltx.AddOp(ctx, undo); err != nil {
				return err
			}
			return ltx.UndoOp(ctx, merge.ID, undo.ID)
		})
		err := s.Write(ctx, func(tx registry.Tx) error { return tx.(registry.Tx).UndoOp(ctx, merge.ID, undo.ID+1) })
		wantCode(t, err, registry.EConflict)
		err = s.Write(ctx, func(tx registry.Tx) error { return tx.(registry.Tx).UndoOp(ctx, 999, undo.ID) })
		wantCode(t, err, registry.ENotFound)
		err = s.Write(ctx, func(tx registry.Tx) error {
			op, err := tx.(registry.Tx).Op(ctx, merge.ID)
			if err == nil && op.UndoneBy != undo.ID {
				t.Errorf("op read in tx: %+v", op)
			}
			_, err2 := tx.(registry.Tx).Op(ctx, 999)
			wantCode(t, err2, registry.ENotFound)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		ops, err := s.Ops(ctx, []int64{undo.ID, merge.ID, 999})
		if err != nil {
			t.Fatal(err)
		}
		merge.UndoneBy = undo.ID
		if diff := cmp.Diff([]*registry.Op{merge, undo}, ops); diff != "" {
			t.Fatalf("ops (-want +got):\n%s", diff)
		}
	})
}

func TestLinkWriteRollsBack(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		var opID int64
		err := s.Write(ctx, func(tx registry.Tx) error {
			ltx := tx.(registry.Tx)
			op := &registry.Op{Kind: "link", At: linkT0}
			if err := ltx.AddOp(ctx, op); err != nil {
				return err
			}
			opID = op.ID
			if err := ltx.PutLink(ctx, personLink("g1", "p1", registry.MatchResultMatch, 1, linkT0), op); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("write: %v", err)
		}
		page, err := s.QueryLinks(ctx, registry.LinkFilter{})
		if err != nil || page.Total != 0 {
			t.Fatalf("links after rollback: %+v %v", page, err)
		}
		events, err := s.LinkHistory(ctx, []string{"g1"}, []string{"p1"})
		if err != nil || len(events) != 0 {
			t.Fatalf("events after rollback: %v %v", events, err)
		}
		ops, err := s.Ops(ctx, []int64{opID})
		if err != nil || len(ops) != 0 {
			t.Fatalf("ops after rollback: %v %v", ops, err)
		}
	})
}

func TestTxCandidatesSeeOwnWrites(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: familyKeys}}
		mustLinkWrite(t, s, func(ltx registry.Tx) error {
			if _, err := svc.CreateTx(ctx, ltx, "Patient", "own", mustDecode(t, patientJSON("Owen", "A", "1990-01-01", "o1")), ""); err != nil {
				return err
			}
			set, err := ltx.Candidates(ctx, "Patient", registry.CandidateQuery{Keys: []string{"fam:owen"}, KeyCap: 10, Max: 10})
			if err != nil {
				return err
			}
			if got := ids(set.Found); !slices.Equal(got, []string{"own"}) {
				t.Errorf("candidates in tx: %v", got)
			}
			return nil
		})
	})
}

// Two transactions that look for the same new person and create it when
// they find nobody: the key lock makes the second wait for the first to
// commit, so it finds the first's record instead of creating a duplicate.
func TestTxCandidatesSerialiseOnPostgres(t *testing.T) {
	dsn := sqltest.DSN(t, "postgres")
	s := sqltest.Open(t, dsn)
	ctx := context.Background()
	svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: familyKeys}}
	q := registry.CandidateQuery{Keys: []string{"fam:race", "fam:other"}, KeyCap: 10, Max: 10}
	records := map[string]map[string]any{
		"a": mustDecode(t, patientJSON("Race", "A", "1990-01-01", "a")),
		"b": mustDecode(t, patientJSON("Race", "A", "1990-01-01", "b")),
	}
	findOrCreate := func(id string, afterCandidates func()) (found int, err error) {
		err = s.Write(ctx, func(tx registry.Tx) error {
			set, err := tx.(registry.Tx).Candidates(ctx, "Patient", q)
			if err != nil {
				return err
			}
			found = len(set.Found)
			afterCandidates()
			if found > 0 {
				return nil
			}
			_, err = svc.CreateTx(ctx, tx, "Patient", id, records[id], "")
			return err
		})
		return found, err
	}
	locked := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var foundA, foundB int
	var errA, errB error
	var sawWaiter bool
	wg.Add(2)
	go func() {
		defer wg.Done()
		foundA, errA = findOrCreate("a", func() {
			once.Do(func() { close(locked) })
			sawWaiter = awaitAdvisoryWaiter(dsn, 10*time.Second)
		})
	}()
	go func() {
		defer wg.Done()
		<-locked
		foundB, errB = findOrCreate("b", func() {})
	}()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("writes: %v, %v", errA, errB)
	}
	if foundA != 0 || foundB != 1 {
		t.Fatalf("first found %d, second found %d (second waited on the lock: %v); want 0 and 1", foundA, foundB, sawWaiter)
	}
	if n, err := s.CountResources(ctx, "Patient"); err != nil || n != 1 {
		t.Fatalf("%d Patients (%v), want 1", n, err)
	}
}

// awaitAdvisoryWaiter polls until some session of the database waits for an
// advisory lock, or gives up after limit (then the test fails on what the
// second transaction saw, not on time).
func awaitAdvisoryWaiter(dsn string, limit time.Duration) bool {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		return false
	}
	if sqldb, err := db.DB(); err == nil {
		defer sqldb.Close()
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var n int
		err := db.Raw(`SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`).Scan(&n).Error
		if err == nil && n > 0 {
			return true
		}
	}
	return false
}

// The history of 70,000 records (a re-match asks for every record of its
// new golden records) is read in chunks: more ids than SQLite (32,766) or
// PostgreSQL (65,535) bind in one statement, and every event found once,
// oldest first, also one that both lists select.
func TestLinkHistoryOfManyRecords(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		for i, src := range []string{"p1", "p2"} {
			mustLinkWrite(t, s, func(ltx registry.Tx) error {
				op := &registry.Op{Kind: "link", At: linkT0.Add(time.Duration(i) * time.Minute)}
				if err := ltx.AddOp(ctx, op); err != nil {
					return err
				}
				return ltx.PutLink(ctx, personLink("g1", src, registry.MatchResultMatch, 1, linkT0), op)
			})
		}
		ids := make([]string, 70_000)
		for i := range ids {
			ids[i] = fmt.Sprintf("x%d", i)
		}
		ids[12_345], ids[69_999] = "p2", "p1"
		events, err := s.LinkHistory(ctx, []string{"g1"}, ids)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			got = append(got, e.Link.SourceID)
		}
		if !slices.Equal(got, []string{"p1", "p2"}) {
			t.Fatalf("events of p1, p2: %v", got)
		}
	})
}
