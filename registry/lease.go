package registry

import (
	"context"
	"time"
)

// LeaseStore holds named leases in the database, so that the instances
// sharing it take turns at work that must not run twice at once (the
// linking of a calibrated first load, a training on growth). A lease has
// one holder at a time, who renews it while working; one whose holder
// died expires after its duration.
type LeaseStore interface {
	// TryLease makes holder the holder of name until d from now (the
	// database's clock on PostgreSQL, local on SQLite) when the lease is
	// free, expired, or holder's already; it reports whether it is.
	TryLease(ctx context.Context, name, holder string, local time.Time, d time.Duration) (bool, error)
	// ReleaseLease frees name if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}
