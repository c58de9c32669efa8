package policy

import (
	"context"
	"time"
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
	until, err := a.store.LockedUntil(ctx, keys)
	if err != nil {
		return 0, err
	}
	now := a.now()
	var wait time.Duration
	for _, u := range until {
		if !u.IsZero() {
			wait = max(wait, u.Sub(now))
		}
	}
	return wait, nil
}

// SignInFailed counts a failed sign-in for account from addr, and makes
// either wait once it is over its free failures.
func (a *Authorizer) SignInFailed(ctx context.Context, account, addr string) error {
	keys, free := throttleKeys(account, addr)
	if len(keys) == 0 {
		return nil
	}
	freeOf := make(map[string]int64, len(keys))
	for i, k := range keys {
		freeOf[k] = free[i]
	}
	now := a.now()
	return a.store.CountFailure(ctx, Failure{Keys: keys, At: now, Forget: now.Add(-throttleForget),
		Until: func(key string, failures int64) time.Time {
			if failures < freeOf[key] {
				return time.Time{}
			}
			return now.Add(backoff(failures - freeOf[key]))
		}})
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
	return a.store.ClearFailures(ctx, account)
}
