package sqlstore_test

import (
	"context"
	"fmt"
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
