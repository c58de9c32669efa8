package policystore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/policy"
)

// LockedUntil returns the waits of the counted keys.
func (s *Store) LockedUntil(ctx context.Context, keys []string) ([]time.Time, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var until []int64
	if err := s.read(ctx).Raw(`SELECT locked_until FROM policy_throttle WHERE subject IN ?`, keys).Scan(&until).Error; err != nil {
		return nil, err
	}
	out := make([]time.Time, len(until))
	for i, u := range until {
		out[i] = fromMicro(u)
	}
	return out, nil
}

// CountFailure counts one failed sign-in against each key.
func (s *Store) CountFailure(ctx context.Context, f policy.Failure) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM policy_throttle WHERE last_failure < ?`, f.Forget.UnixMicro()).Error; err != nil {
			return err
		}
		for _, k := range f.Keys {
			if err := countFailure(tx, k, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// countFailure adds one failure to key and sets its wait.
func countFailure(tx *gorm.DB, key string, f policy.Failure) error {
	err := tx.Exec(`INSERT INTO policy_throttle (subject, failures, last_failure, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (subject) DO UPDATE SET failures = policy_throttle.failures + 1, last_failure = excluded.last_failure`, key, f.At.UnixMicro()).Error
	if err != nil {
		return err
	}
	var n int64
	if err := tx.Raw(`SELECT failures FROM policy_throttle WHERE subject = ?`, key).Scan(&n).Error; err != nil {
		return err
	}
	until := f.Until(key, n)
	if until.IsZero() {
		return nil
	}
	return tx.Exec(`UPDATE policy_throttle SET locked_until = ? WHERE subject = ?`, until.UnixMicro(), key).Error
}

// ClearFailures deletes key's count.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM policy_throttle WHERE subject = ?`, key).Error
	})
}
