package app

import (
	"context"
	"time"

	"idem/registry"
	"idem/registry/exchange"
)

// wirePush gives the write path what pushed data needs: the Endpoint
// registry, so references to peers' records resolve (and are followed),
// and the queue of held writes — those waiting for the records their
// references name, and those the policy sends to a steward.
func wirePush(o *opened, ex *exchange.Service) {
	o.linker.SetPeers(ex)
	o.svc.Holds = &registry.Holds{Store: o.store, Follow: ex.Follow, Audit: o.auditor}
}

// startHeld tries the held writes that wait for references every poll,
// until Close: each is stored once the records it names have arrived.
func (i *Instance) startHeld(svc *registry.Service, poll time.Duration) {
	if poll <= 0 {
		poll = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	i.stopHeld, i.heldDone = cancel, make(chan struct{})
	go func() {
		defer close(i.heldDone)
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := svc.ReleaseWaiting(ctx, 200); err != nil && ctx.Err() == nil {
				i.log.Warn("releasing held writes", "err", err)
			}
		}
	}()
}
