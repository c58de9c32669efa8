package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/dbclock"
)

var _ registry.BulkStore = (*Store)(nil)

const jobColumns = `id, kind, status, actor, request, params, total, done, summary, error, created, updated, finished`

// CreateJob stores a new bulk job.
func (s *Store) CreateJob(ctx context.Context, j *registry.BulkJob) error {
	actor, err := json.Marshal(j.Actor)
	if err != nil {
		return registry.Internal(err)
	}
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		return db.Exec(`INSERT INTO bulk_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.Kind, j.Status, actor, j.Request, j.Params, j.Total, j.Done, j.Summary, j.Error,
			jobMicros(j.Created), jobMicros(j.Updated), jobMicros(j.Finished)).Error
	})
}

// Job returns one bulk job.
func (s *Store) Job(ctx context.Context, id string) (*registry.BulkJob, error) {
	jobs, err := s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no bulk job %q", id)
	}
	return jobs[0], nil
}

// Jobs returns the newest jobs of kind ("" for every kind).
func (s *Store) Jobs(ctx context.Context, kind string, limit int) ([]*registry.BulkJob, error) {
	if kind == "" {
		return s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs ORDER BY created DESC, id DESC LIMIT ?`, limit)
	}
	return s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE kind = ? ORDER BY created DESC, id DESC LIMIT ?`, kind, limit)
}

func (s *Store) jobs(ctx context.Context, query string, args ...any) ([]*registry.BulkJob, error) {
	rows, err := s.read.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, registry.Internal(err)
	}
	defer rows.Close()
	var out []*registry.BulkJob
	for rows.Next() {
		j := &registry.BulkJob{}
		var actor []byte
		var created, updated, finished int64
		if err := rows.Scan(&j.ID, &j.Kind, &j.Status, &actor, &j.Request, &j.Params, &j.Total, &j.Done, &j.Summary, &j.Error,
			&created, &updated, &finished); err != nil {
			return nil, registry.Internal(err)
		}
		if err := json.Unmarshal(actor, &j.Actor); err != nil {
			return nil, registry.Internal(err)
		}
		j.Created, j.Updated, j.Finished = jobTime(created), jobTime(updated), jobTime(finished)
		out = append(out, j)
	}
	return out, internalErr(rows.Err())
}

// UpdateJob stores a job's state.
func (s *Store) UpdateJob(ctx context.Context, j *registry.BulkJob) error {
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		return db.Exec(`UPDATE bulk_jobs SET status = ?, request = ?, params = ?, total = ?, done = ?, summary = ?, error = ?, updated = ?, finished = ? WHERE id = ?`,
			j.Status, j.Request, j.Params, j.Total, j.Done, j.Summary, j.Error, jobMicros(j.Updated), jobMicros(j.Finished), j.ID).Error
	})
}

// DeleteJob removes a job, its lines and its results.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		for _, q := range []string{`DELETE FROM bulk_lines WHERE job = ?`, `DELETE FROM bulk_results WHERE job = ?`, `DELETE FROM bulk_jobs WHERE id = ?`} {
			if err := db.Exec(q, id).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendLines spools input lines of an import job.
func (s *Store) AppendLines(ctx context.Context, job string, lines []registry.ImportLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		for start := 0; start < len(lines); start += 500 {
			part := lines[start:min(start+500, len(lines))]
			args := make([]any, 0, 4*len(part))
			for _, l := range part {
				args = append(args, job, l.Line, l.Body, l.Problem)
			}
			q := `INSERT INTO bulk_lines (job, line, body, problem) VALUES ` + values(len(part), 4)
			if err := db.Exec(q, args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// Lines returns up to n spooled lines after line number after.
func (s *Store) Lines(ctx context.Context, job string, after, n int) ([]registry.ImportLine, error) {
	rows, err := s.read.WithContext(ctx).Raw(`SELECT line, body, problem FROM bulk_lines WHERE job = ? AND line > ? ORDER BY line LIMIT ?`, job, after, n).Rows()
	if err != nil {
		return nil, registry.Internal(err)
	}
	defer rows.Close()
	var out []registry.ImportLine
	for rows.Next() {
		var l registry.ImportLine
		if err := rows.Scan(&l.Line, &l.Body, &l.Problem); err != nil {
			return nil, registry.Internal(err)
		}
		out = append(out, l)
	}
	return out, internalErr(rows.Err())
}

// Lease makes owner the job's worker for d when the job is free: one
// conditional UPDATE, so of two instances asking at once one wins. The
// time is the database's on PostgreSQL (dbclock): instances whose clocks
// disagree by minutes neither take over a live lease nor wait for a dead
// one long after it ended.
func (s *Store) Lease(ctx context.Context, job, owner string, local time.Time, d time.Duration) (bool, error) {
	var won bool
	err := s.WriteDB(ctx, func(db *gorm.DB) error {
		now, err := dbclock.Micros(db, s.postgres, func() time.Time { return local })
		if err != nil {
			return err
		}
		res := db.Exec(`UPDATE bulk_jobs SET lease_owner = ?, lease_until = ? WHERE id = ? AND (lease_owner = ? OR lease_owner = '' OR lease_until < ?)`,
			owner, now+d.Microseconds(), job, owner, now)
		won = res.RowsAffected == 1
		return res.Error
	})
	return won, err
}

// Unlease frees owner's lease of job; a lease another owner took is left.
func (s *Store) Unlease(ctx context.Context, job, owner string) error {
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		return db.Exec(`UPDATE bulk_jobs SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`, job, owner).Error
	})
}

// Runnable returns the active jobs of kind whose lease is free now (the
// database's clock on PostgreSQL, local on SQLite).
func (s *Store) Runnable(ctx context.Context, kind string, local time.Time) ([]string, error) {
	db := s.read.WithContext(ctx)
	now, err := dbclock.Micros(db, s.postgres, func() time.Time { return local })
	if err != nil {
		return nil, registry.Internal(err)
	}
	var ids []string
	err = db.Raw(`SELECT id FROM bulk_jobs WHERE kind = ? AND status IN (?, ?) AND (lease_owner = '' OR lease_until < ?) ORDER BY created, id`,
		kind, registry.JobQueued, registry.JobRunning, now).Scan(&ids).Error
	if err != nil {
		return nil, registry.Internal(err)
	}
	return ids, nil
}

// SaveResults records an import batch's results and moves the job's
// cursor, inside the batch's transaction. The cursor moves only if it is
// still before the batch's first line: a worker whose lease ran out
// mid-batch, while another took the job over from the same cursor, finds
// the batch written already, and its transaction is rolled back with an
// error that leaves the job running (not a conflict to retry, which would
// fail the job). The job's row lock orders the two.
func (s *Store) SaveResults(ctx context.Context, rtx registry.Tx, job string, upTo int, results []*registry.ImportResult) error {
	t := rtx.(*tx)
	if err := t.flush(ctx); err != nil {
		return err
	}
	db := t.db.WithContext(ctx)
	first := upTo
	for _, r := range results {
		first = min(first, r.Line)
	}
	moved := db.Exec(`UPDATE bulk_jobs SET done = ?, status = ?, updated = ? WHERE id = ? AND done < ?`,
		upTo, registry.JobRunning, time.Now().UnixMicro(), job, first)
	if moved.Error != nil {
		return moved.Error
	}
	if moved.RowsAffected == 0 {
		return registry.Internal(fmt.Errorf("bulk job %s: line %d on was written by another worker (this one's lease ran out mid-batch)", job, first))
	}
	for start := 0; start < len(results); start += 500 {
		part := results[start:min(start+500, len(results))]
		args := make([]any, 0, 12*len(part))
		for _, r := range part {
			ng := 0
			if r.NewGolden {
				ng = 1
			}
			args = append(args, job, r.Line, r.Type, r.ID, r.Source, r.System, r.Outcome, r.Golden, ng, r.Review, strings.Join(r.Capped, " "), r.Problem)
		}
		q := `INSERT INTO bulk_results (job, line, type, id, source, system, outcome, golden, new_golden, review, capped, problem) VALUES ` + values(len(part), 12)
		if err := db.Exec(q, args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// Results returns up to n results after line number after.
func (s *Store) Results(ctx context.Context, job string, after, n int) ([]*registry.ImportResult, error) {
	rows, err := s.read.WithContext(ctx).Raw(`SELECT line, type, id, source, system, outcome, golden, new_golden, review, capped, problem
		FROM bulk_results WHERE job = ? AND line > ? ORDER BY line LIMIT ?`, job, after, n).Rows()
	if err != nil {
		return nil, registry.Internal(err)
	}
	defer rows.Close()
	var out []*registry.ImportResult
	for rows.Next() {
		r := &registry.ImportResult{}
		var ng int
		var capped string
		if err := rows.Scan(&r.Line, &r.Type, &r.ID, &r.Source, &r.System, &r.Outcome, &r.Golden, &ng, &r.Review, &capped, &r.Problem); err != nil {
			return nil, registry.Internal(err)
		}
		r.NewGolden, r.Capped = ng == 1, strings.Fields(capped)
		out = append(out, r)
	}
	return out, internalErr(rows.Err())
}

// LinkResults reads each result's links with the index on the links'
// source: one statement, which SQLite runs on its one writer.
func (s *Store) LinkResults(ctx context.Context, job string) error {
	const match = `FROM mdm_links l WHERE l.source_type = bulk_results.type AND l.source_id = bulk_results.id AND l.match_result = `
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		return db.Exec(`UPDATE bulk_results SET
			golden = COALESCE((SELECT l.golden_type || '/' || l.golden_id `+match+`? LIMIT 1), ''),
			new_golden = COALESCE((SELECT CASE WHEN l.new_golden THEN 1 ELSE 0 END `+match+`? LIMIT 1), 0),
			review = (SELECT COUNT(*) `+match+`?)
			WHERE job = ? AND outcome <> ?`,
			registry.MatchResultMatch, registry.MatchResultMatch, registry.MatchResultPossible, job, registry.ImportRejected).Error
	})
}

// Summary counts a job's results per source system and outcome.
func (s *Store) Summary(ctx context.Context, job string) ([]registry.ImportCount, []string, error) {
	db := s.read.WithContext(ctx)
	rows, err := db.Raw(`SELECT system, outcome, COUNT(*), COALESCE(SUM(new_golden), 0),
		COALESCE(SUM(CASE WHEN golden <> '' AND new_golden = 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(review), 0)
		FROM bulk_results WHERE job = ? GROUP BY system, outcome ORDER BY system, outcome`, job).Rows()
	if err != nil {
		return nil, nil, registry.Internal(err)
	}
	defer rows.Close()
	var counts []registry.ImportCount
	for rows.Next() {
		var c registry.ImportCount
		if err := rows.Scan(&c.System, &c.Outcome, &c.Records, &c.NewGolden, &c.AutoLinked, &c.Review); err != nil {
			return nil, nil, registry.Internal(err)
		}
		counts = append(counts, c)
	}
	var capped []string
	if err := db.Raw(`SELECT DISTINCT capped FROM bulk_results WHERE job = ? AND capped <> '' LIMIT 1000`, job).Scan(&capped).Error; err != nil {
		return nil, nil, registry.Internal(err)
	}
	seen := map[string]bool{}
	var keys []string
	for _, c := range capped {
		for _, k := range strings.Fields(c) {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return counts, keys, nil
}

// values returns "(?, …), (?, …)" for n rows of cols columns.
func values(n, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func jobMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func jobTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// internalErr wraps a database error as an internal one; nil stays nil.
func internalErr(err error) error {
	if err == nil {
		return nil
	}
	return registry.Internal(err)
}
