package policy

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Sign-in throttling (the admin UI's passwords, SMART token requests).
// Failures are counted in the database, per account and per client
// address, so that a locked account is locked on every instance sharing
// it. After a few free failures each further one makes the key wait,
// twice as long each time up to ThrottleMax; a success clears the
// account's count, and counts are forgotten an hour after their last
// failure.

// Throttling thresholds.
const (
	ThrottleFreeAccount = 5                // failures of one account before it waits
	ThrottleFreeAddress = 20               // failures from one address before it waits (NAT: many people)
	ThrottleFirst       = 30 * time.Second // the first wait
	ThrottleMax         = 15 * time.Minute // the longest wait
	throttleForget      = time.Hour
)

var throttleSchema = []string{
	`CREATE TABLE IF NOT EXISTS policy_throttle (
		subject TEXT PRIMARY KEY,
		failures BIGINT NOT NULL,
		last_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS policy_throttle_last ON policy_throttle (last_failure)`,
}

// throttleKeys are the counters of an attempt: the account's ("user:ann",
// "client:backend"; none when unnamed) and the address's.
func throttleKeys(account, addr string) (keys []string, free []int64) {
	if account != "" && account != "user:" && account != "client:" {
		keys, free = append(keys, account), append(free, ThrottleFreeAccount)
	}
	if addr != "" {
		keys, free = append(keys, "addr:"+addr), append(free, ThrottleFreeAddress)
	}
	return keys, free
}

// Throttle returns how long sign-in attempts for account from addr must
// wait before one is checked again (0: go ahead).
func (a *Authorizer) Throttle(ctx context.Context, account, addr string) (time.Duration, error) {
	keys, _ := throttleKeys(account, addr)
	if len(keys) == 0 {
		return 0, nil
	}
	var until []int64
	err := a.db.Read().WithContext(ctx).Raw(`SELECT locked_until FROM policy_throttle WHERE subject IN ?`, keys).Scan(&until).Error
	if err != nil {
		return 0, err
	}
	now := a.now()
	var wait time.Duration
	for _, u := range until {
		wait = max(wait, fromMicro(u).Sub(now))
	}
	return wait, nil
}

// SignInFailed counts a failed sign-in for account from addr, and makes
// either wait once it is over its free failures.
func (a *Authorizer) SignInFailed(ctx context.Context, account, addr string) error {
	keys, free := throttleKeys(account, addr)
	now := a.now()
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM policy_throttle WHERE last_failure < ?`, now.Add(-throttleForget).UnixMicro()).Error; err != nil {
			return err
		}
		for i, k := range keys {
			if err := countFailure(tx, k, free[i], now); err != nil {
				return err
			}
		}
		return nil
	})
}

// countFailure adds one failure to key and sets its wait.
func countFailure(tx *gorm.DB, key string, free int64, now time.Time) error {
	err := tx.Exec(`INSERT INTO policy_throttle (subject, failures, last_failure, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (subject) DO UPDATE SET failures = policy_throttle.failures + 1, last_failure = excluded.last_failure`, key, now.UnixMicro()).Error
	if err != nil {
		return err
	}
	var n int64
	if err := tx.Raw(`SELECT failures FROM policy_throttle WHERE subject = ?`, key).Scan(&n).Error; err != nil {
		return err
	}
	if n < free {
		return nil
	}
	return tx.Exec(`UPDATE policy_throttle SET locked_until = ? WHERE subject = ?`, now.Add(backoff(n-free)).UnixMicro(), key).Error
}

// backoff is the wait after the n-th failure over the free ones (from 0).
func backoff(n int64) time.Duration {
	if n > 10 {
		return ThrottleMax
	}
	return min(ThrottleFirst<<n, ThrottleMax)
}

// SignInSucceeded clears account's failures (not its address's: one good
// password must not reset a guesser's count for the others).
func (a *Authorizer) SignInSucceeded(ctx context.Context, account string) error {
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM policy_throttle WHERE subject = ?`, account).Error
	})
}
