package app

import (
	"context"
	"log/slog"

	"idem/registry"
	"idem/registry/exchange"
	"idem/registry/outbound"
	"idem/registry/secret"
	"idem/registry/sqlstore"
)

// newExchange builds the exchange service (subscriptions, endpoints,
// pulls) over the store, and makes every committed write wake its worker.
func newExchange(cfg Config, o *opened, allow *outbound.Allow, ring *secret.Keyring, log *slog.Logger) *exchange.Service {
	ex := exchange.New(storeDB{o.store}, o.svc, exchange.Config{Allow: allow, Postgres: sqlstore.IsPostgres(cfg.DB),
		RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, HeartbeatMin: cfg.Heartbeat, Retention: cfg.EventRetention,
		Secrets: ring, Now: cfg.now, PullOverlap: cfg.PullOverlap}, log)
	ex.ActorFor = func(ctx context.Context, name string) (registry.Actor, error) {
		c, err := o.authz.Client(ctx, name)
		if err != nil {
			return registry.Actor{}, err
		}
		if !c.Active(o.svc.Now()) {
			return registry.Actor{}, registry.Errorf(registry.EForbidden, "client %s is revoked or expired", name)
		}
		return c.Principal(), nil
	}
	o.svc.Store = wakeStore{Store: o.store, wake: ex.Wake}
	wirePush(o, ex)
	return ex
}

// startExchange runs the delivery and pull worker until Close.
func (i *Instance) startExchange() {
	base := i.cfg.BaseURL
	if base == "" {
		base = i.URL() + "/fhir"
	}
	i.exchange.SetBase(base)
	ctx, cancel := context.WithCancel(context.Background())
	i.stopEx, i.exDone = cancel, make(chan struct{})
	go func() {
		defer close(i.exDone)
		i.exchange.Run(ctx)
	}()
}

// wakeStore wakes the exchange worker after each committed write, so a
// notification leaves at once instead of at the next poll. It embeds the
// concrete store so its other capabilities (LinkStore, …) stay visible.
type wakeStore struct {
	*sqlstore.Store
	wake func()
}

func (w wakeStore) Write(ctx context.Context, fn func(tx registry.Tx) error) error {
	err := w.Store.Write(ctx, fn)
	if err == nil {
		w.wake()
	}
	return err
}
