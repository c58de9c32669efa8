package linkage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Calibration work that must not run twice at once — linking a calibrated
// first load (Loaded), training on growth (CheckGrowth) — holds a lease
// in the database, so that instances sharing a PostgreSQL database take
// turns as the goroutines of one instance do: two imports ending at the
// same moment on two instances trained and re-matched the whole type
// twice, each under its own model and with golden records of its own.

// calibrationLease is the lease that calibration work holds.
const calibrationLease = "linkage/calibration"

// Lease timing: a holder renews every leaseRenew; a lease whose holder
// stopped renewing (its process died) expires after leaseFor; a waiter
// asks again every leaseWait.
var (
	leaseFor   = 30 * time.Second
	leaseRenew = 10 * time.Second
	leaseWait  = 500 * time.Millisecond
)

// hold waits until it holds the lease name, and keeps it renewed until
// the returned release is called. Each call is a holder of its own.
func (c *Calibrator) hold(ctx context.Context, name string) (release func(), err error) {
	var b [12]byte
	rand.Read(b[:])
	holder := hex.EncodeToString(b[:])
	logged := false
	for {
		won, err := c.store.TryLease(ctx, name, holder, time.Now(), leaseFor)
		if err != nil {
			return nil, err
		}
		if won {
			break
		}
		if !logged {
			c.log.Info("calibration waits for another's to end (another instance, or this one)", "lease", name)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaseWait):
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseRenew)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if won, err := c.store.TryLease(context.WithoutCancel(ctx), name, holder, time.Now(), leaseFor); err != nil || !won {
				c.log.Warn("calibration lease not renewed: another instance may start the same work", "lease", name, "err", err)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		if err := c.store.ReleaseLease(context.WithoutCancel(ctx), name, holder); err != nil {
			c.log.Warn("calibration lease not released; it expires", "lease", name, "err", err)
		}
	}, nil
}
