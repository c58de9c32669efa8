package sqlstore_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// An export's counts are the lines of its files: CountSnapshot equals what
// Snapshot pages through, for records unchanged since the snapshot, and
// for records updated, deleted or created after it (counted by the
// version current at the snapshot), with and without _since, for live
// and deleted resources.
func TestCountSnapshotMatchesPages(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := service(s)
		var ids []string
		for i := 1; i <= 6; i++ {
			ids = append(ids, mustCreate(t, svc, patientJSON(fmt.Sprint("Count", i), "Ann", "1970-01-01", fmt.Sprint(i))).ID)
		}
		since := svc.Now()
		if _, err := svc.Delete(ctx, "Patient", ids[1]); err != nil {
			t.Fatal(err)
		}
		update := func(i int) {
			res := mustDecode(t, patientJSON("Changed", "Ann", "1970-01-01", fmt.Sprint(i+1)))
			res["id"] = ids[i]
			if _, err := svc.Update(ctx, "Patient", ids[i], res, 0); err != nil {
				t.Fatal(err)
			}
		}
		update(2)
		at := svc.Now()
		update(3) // after the snapshot: counted by version 1
		if _, err := svc.Delete(ctx, "Patient", ids[4]); err != nil {
			t.Fatal(err) // after the snapshot: live in it
		}
		mustCreate(t, svc, patientJSON("Later", "Ann", "1970-01-01", "7")) // not in it
		for _, c := range []struct {
			name    string
			since   time.Time
			deleted bool
			want    int
		}{
			{"live", time.Time{}, false, 5},
			{"deleted", time.Time{}, true, 1},
			{"live since", since, false, 1},
			{"deleted since", since, true, 1},
		} {
			q := registry.SnapshotQuery{Type: "Patient", At: at, Since: c.since, Deleted: c.deleted, Count: 2}
			n, err := s.CountSnapshot(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			lines := 0
			for {
				page, err := s.Snapshot(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				lines += len(page)
				if len(page) < q.Count {
					break
				}
				q.After = page[len(page)-1].ID
			}
			if n != c.want || lines != c.want {
				t.Errorf("%s: counted %d, paged %d, want %d", c.name, n, lines, c.want)
			}
		}
	})
}

// The crosswalk has one row per source record that existed at the
// export's time and exists now, with its meta.source and the golden
// record of its MATCH link (not of a POSSIBLE_MATCH); its count is its
// rows.
func TestCrosswalkRows(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := service(s)
		withSource := func(i int) string {
			return fmt.Sprintf(`{"resourceType":"Patient","meta":{"source":"http://ehr.example/Patient/l%d"},"name":[{"family":"Walk%d"}]}`, i, i)
		}
		var ids []string
		for i := 0; i < 4; i++ {
			ids = append(ids, mustCreate(t, svc, withSource(i)).ID)
		}
		person := mustCreate(t, svc, `{"resourceType":"Person","name":[{"family":"Walk"}]}`).ID
		err := s.Write(ctx, func(tx registry.Tx) error {
			for i, result := range []string{registry.MatchResultMatch, registry.MatchResultPossible} {
				l := &registry.Link{GoldenType: "Person", GoldenID: person, SourceType: "Patient", SourceID: ids[i],
					MatchResult: result, LinkSource: registry.LinkSourceAuto, Created: svc.Now(), Updated: svc.Now()}
				if err := tx.PutLink(ctx, l, &registry.Op{Kind: "link", Actor: "test", At: svc.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Delete(ctx, "Patient", ids[3]); err != nil {
			t.Fatal(err)
		}
		at := svc.Now()
		res := mustDecode(t, withSource(2))
		res["id"] = ids[2]
		if _, err := svc.Update(ctx, "Patient", ids[2], res, 0); err != nil { // existed at at: listed
			t.Fatal(err)
		}
		mustCreate(t, svc, withSource(9)) // did not: not listed
		want := map[string]registry.CrosswalkRow{
			ids[0]: {Type: "Patient", ID: ids[0], Source: "http://ehr.example/Patient/l0", Golden: "Person/" + person},
			ids[1]: {Type: "Patient", ID: ids[1], Source: "http://ehr.example/Patient/l1"},
			ids[2]: {Type: "Patient", ID: ids[2], Source: "http://ehr.example/Patient/l2"},
		}
		got := map[string]registry.CrosswalkRow{}
		for after := ""; ; {
			page, err := s.Crosswalk(ctx, "Patient", at, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				got[r.ID] = r
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		if !maps.Equal(got, want) {
			t.Errorf("crosswalk:\n got %v\nwant %v", got, want)
		}
		if n, err := s.CountCrosswalk(ctx, "Patient", at); err != nil || n != len(want) {
			t.Errorf("CountCrosswalk: %d, %v; want %d", n, err, len(want))
		}
	})
}
