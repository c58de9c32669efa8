package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

// The admin UI's views of subscriptions and peers (registry types, so
// the web layer needs nothing of this package). Admins only; secrets are
// never in them.

func adminOnly(ctx context.Context, what string) error {
	if !registry.ActorFrom(ctx).HasRole("admin") {
		return registry.Errorf(registry.EForbidden, "%s is for admins", what)
	}
	return nil
}

// timeOrZero is a stored Unix-microsecond time, zero for 0.
func timeOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return timeOf(us)
}

func (r *subRow) state() registry.SubscriptionState {
	return registry.SubscriptionState{ID: r.ID, Owner: r.Owner, Topic: r.Topic, Endpoint: r.Endpoint, Status: r.Status, Content: r.Content,
		Heartbeat: r.Heartbeat, Events: r.EventsSinceStart, Delivered: r.Delivered, Pruned: r.Pruned, Errors: r.Errors,
		LastError: r.LastError, LastErrorAt: timeOrZero(r.LastErrorAt), LastSent: timeOrZero(r.LastSent),
		NextAttempt: timeOrZero(r.NextAttempt), Created: timeOrZero(r.Created)}
}

// SubscriptionStates lists every subscription's delivery state, oldest first.
func (s *Service) SubscriptionStates(ctx context.Context) ([]registry.SubscriptionState, error) {
	if err := adminOnly(ctx, "delivery state"); err != nil {
		return nil, err
	}
	var rows []subRow
	if err := s.db.Read().WithContext(ctx).Order("created, id").Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]registry.SubscriptionState, len(rows))
	for i := range rows {
		out[i] = rows[i].state()
	}
	return out, nil
}

// SubscriptionDetail returns subscription id's delivery state and its
// newest events (at most limit, newest first).
func (s *Service) SubscriptionDetail(ctx context.Context, id string, limit int) (registry.SubscriptionState, []registry.SubscriptionEvent, error) {
	if err := adminOnly(ctx, "delivery state"); err != nil {
		return registry.SubscriptionState{}, nil, err
	}
	var row subRow
	if err := s.owned(ctx, s.db.Read().WithContext(ctx), id, &row); err != nil {
		return registry.SubscriptionState{}, nil, err
	}
	var evs []eventRow
	if err := s.db.Read().WithContext(ctx).Where("sub_id = ?", id).Order("seq DESC").Limit(limit).Find(&evs).Error; err != nil {
		return registry.SubscriptionState{}, nil, registry.Internal(err)
	}
	out := make([]registry.SubscriptionEvent, len(evs))
	for i, e := range evs {
		out[i] = registry.SubscriptionEvent{Seq: e.Seq, Kind: e.Kind, Focus: e.Type + "/" + e.ResID, Version: e.Version,
			At: timeOrZero(e.At), Sent: timeOrZero(e.Sent), Attempts: e.Attempts}
	}
	return row.state(), out, nil
}

// Peers lists every Endpoint with its pull settings and health, by name.
func (s *Service) Peers(ctx context.Context) ([]registry.PeerState, error) {
	if err := adminOnly(ctx, "the peers' state"); err != nil {
		return nil, err
	}
	var rows []dirRow
	if err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint'").Order("name, id").Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]registry.PeerState, 0, len(rows))
	for i := range rows {
		p, err := s.peerState(ctx, &rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// PeerDetail returns Endpoint id's state and its newest pulls (at most
// limit, newest first).
func (s *Service) PeerDetail(ctx context.Context, id string, limit int) (registry.PeerState, []registry.PullRun, error) {
	if err := adminOnly(ctx, "the peers' state"); err != nil {
		return registry.PeerState{}, nil, err
	}
	var row dirRow
	err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint' AND id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return registry.PeerState{}, nil, registry.Errorf(registry.ENotFound, "Endpoint/%s is not known", id)
	}
	if err != nil {
		return registry.PeerState{}, nil, registry.Internal(err)
	}
	p, err := s.peerState(ctx, &row)
	if err != nil {
		return p, nil, err
	}
	var runs []pullRun
	if err := s.db.Read().WithContext(ctx).Where("endpoint_id = ?", id).Order("id DESC").Limit(limit).Find(&runs).Error; err != nil {
		return p, nil, registry.Internal(err)
	}
	out := make([]registry.PullRun, len(runs))
	for i, r := range runs {
		out[i] = registry.PullRun{ID: r.ID, Trigger: r.Trigger, Started: timeOrZero(r.Started), Finished: timeOrZero(r.Finished),
			Fetched: r.Fetched, Created: r.Created, Updated: r.Updated, Deleted: r.Deleted, Skipped: r.Skipped, Pages: r.Pages, Error: r.Error}
	}
	return p, out, nil
}

func (s *Service) peerState(ctx context.Context, row *dirRow) (registry.PeerState, error) {
	var res map[string]any
	if err := json.Unmarshal(row.Body, &res); err != nil {
		return registry.PeerState{}, registry.Internal(err)
	}
	st, err := s.endpointState(ctx, s.db.Read(), row.ID)
	if err != nil {
		return registry.PeerState{}, err
	}
	now, err := s.leaseNow(s.db.Read().WithContext(ctx))
	if err != nil {
		return registry.PeerState{}, registry.Internal(err)
	}
	p := registry.PeerState{ID: row.ID, Status: row.Status, Types: extensionValues(res, ExtPullType, "valueCode"),
		LastSuccess: timeOrZero(st.LastSuccess), LastErrorAt: timeOrZero(st.LastErrorAt), NextPull: timeOrZero(st.NextPull),
		LastError: st.LastError, Failures: st.Failures, Pulled: st.Pulled, Pulling: st.LeaseUntil > now, Every: defaultPullGap}
	p.Name, _ = res["name"].(string)
	p.Address, _ = res["address"].(string)
	if cs := extensionValues(res, ExtClient, "valueString"); len(cs) > 0 {
		p.Client = cs[0]
	}
	if ss := extensionValues(res, ExtSourceSystem, "valueUri"); len(ss) > 0 {
		p.System = ss[0]
	}
	if n, _ := intExtension(res, ExtPullEvery, "valueUnsignedInt"); n > 0 {
		p.Every = time.Duration(n) * time.Second
	}
	if st.Failures >= failuresToError && p.Status == "active" {
		p.Status = "error"
	}
	switch c, _, ok := smartSettings(res); {
	case ok:
		p.Auth = "SMART Backend Services client " + c.clientID + " at " + c.tokenURL + " (" + c.alg + ", kid " + c.keyID + ")"
		if st.SmartKey == "" {
			p.Auth += " — no private key stored"
		} else {
			p.Auth += " — private key set"
		}
	case st.Secret != "":
		p.Auth = "bearer token (secret set)"
	default:
		p.Auth = "none"
	}
	return p, nil
}

// SyncSoon asks for a pull from Endpoint id at once (admins): the worker
// takes it at its next round, so the admin UI's "sync now" returns at
// once and the peer's page shows the pull's progress.
func (s *Service) SyncSoon(ctx context.Context, id string) error {
	if err := adminOnly(ctx, "sync now"); err != nil {
		return err
	}
	if _, err := s.ReadDirectory(ctx, "Endpoint", id); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE endpoint_state SET next_pull = 0 WHERE id = ?`, id).Error
	})
	if err != nil {
		return registry.Internal(err)
	}
	s.Wake()
	return nil
}
