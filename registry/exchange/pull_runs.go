package exchange

import (
	"context"

	"gorm.io/gorm"
)

// Each pull from a peer is recorded in pull_runs as it goes: a row at the
// start, its counts after every page (the progress the peer's admin page
// shows while it runs), and its end with the error if it failed. The
// newest keptRuns of each peer are kept.

const keptRuns = 50

// Pull triggers, as the history shows them.
const (
	TriggerDue  = "due"   // the interval passed, a notification or "sync now" moved it up
	TriggerSync = "$sync" // POST Endpoint/{id}/$sync, which answers its counts
)

// pullRun is a row of pull_runs.
type pullRun struct {
	ID         int64 `gorm:"primaryKey"`
	EndpointID string
	Trigger    string
	Started    int64
	Finished   int64
	Fetched    int64
	Created    int64
	Updated    int64
	Deleted    int64
	Skipped    int64
	Pages      int64
	Error      string
}

func (pullRun) TableName() string { return "pull_runs" }

// startRun records the start of a pull; 0 when it could not be recorded
// (the pull goes on: its history is not worth failing it for).
func (s *Service) startRun(ctx context.Context, endpoint, trigger string) int64 {
	r := &pullRun{EndpointID: endpoint, Trigger: trigger, Started: s.now()}
	err := s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error { return tx.Create(r).Error })
	if err != nil {
		s.log.Warn("recording a pull", "endpoint", endpoint, "err", err)
		return 0
	}
	return r.ID
}

// updateRun stores a pull's counts so far, and when done its end and error.
func (s *Service) updateRun(ctx context.Context, run int64, endpoint string, c PullCounts, done bool, cause error) {
	if run == 0 {
		return
	}
	cols := map[string]any{"fetched": c.Fetched, "created": c.Created, "updated": c.Updated, "deleted": c.Deleted,
		"skipped": c.Skipped, "pages": c.Pages}
	if done {
		cols["finished"] = s.now()
		if cause != nil {
			msg := cause.Error()
			cols["error"] = msg[:min(len(msg), 500)]
		}
	}
	err := s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		if err := tx.Model(&pullRun{}).Where("id = ?", run).Updates(cols).Error; err != nil {
			return err
		}
		if !done {
			return nil
		}
		return tx.Exec(`DELETE FROM pull_runs WHERE endpoint_id = ? AND id < (SELECT MIN(id) FROM
			(SELECT id FROM pull_runs WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?) newest)`, endpoint, endpoint, keptRuns).Error
	})
	if err != nil {
		s.log.Warn("recording a pull's progress", "endpoint", endpoint, "err", err)
	}
}
