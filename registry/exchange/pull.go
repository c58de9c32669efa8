package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"idem/registry"
)

// Pulling: each enabled Endpoint with pull types is polled at
// {address}/{Type}/_history?_since=cursor−overlap, page by page along the
// next links. Every record goes through the write pipeline as the peer's
// client (policy, matching, linking, audit, notify); a deletion on the peer
// is a deletion here. The local id of a peer's record is derived from the
// endpoint, type and remote id (UUIDv5), so a pull repeated after a crash
// writes the same records again instead of creating duplicates, and
// pull_map keeps the version last applied, which makes the overlap window
// cheap.

// Pull settings.
const (
	failuresToError = 5                // consecutive failures that show the Endpoint as status error
	defaultPullGap  = 60 * time.Second // pull interval without the pull-every extension
	maxPullPages    = 10_000           // pages followed in one pull
	maxPageBytes    = 64 << 20         // one history page at most
)

// endpointState is a row of endpoint_state.
type endpointState struct {
	ID          string
	Secret      string
	SmartKey    string
	LastSuccess int64
	LastError   string
	LastErrorAt int64
	Failures    int64
	NextPull    int64
	Pulled      int64
	LeaseOwner  string
	LeaseUntil  int64
	Notified    int64 // notifications received (Notified)
}

func (endpointState) TableName() string { return "endpoint_state" }

func (s *Service) endpointState(ctx context.Context, db *gorm.DB, id string) (*endpointState, error) {
	var st endpointState
	err := db.WithContext(ctx).Where("id = ?", id).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &endpointState{ID: id}, nil
	}
	if err != nil {
		return nil, registry.Internal(err)
	}
	return &st, nil
}

// health is the endpoint-health extension: last success, last error and
// consecutive failures.
func (st *endpointState) health() map[string]any {
	var sub []any
	if st.LastSuccess > 0 {
		sub = append(sub, map[string]any{"url": "lastSuccess", "valueInstant": registry.FormatInstant(timeOf(st.LastSuccess))})
	}
	if st.LastError != "" {
		sub = append(sub, map[string]any{"url": "lastError", "valueString": st.LastError},
			map[string]any{"url": "lastErrorAt", "valueInstant": registry.FormatInstant(timeOf(st.LastErrorAt))})
	}
	sub = append(sub, map[string]any{"url": "consecutiveFailures", "valueUnsignedInt": st.Failures},
		map[string]any{"url": "recordsPulled", "valueUnsignedInt": st.Pulled})
	return map[string]any{"url": ExtHealth, "extension": sub}
}

// peer is an Endpoint ready to pull from.
type peer struct {
	id, base, client, system, token string
	smart                           *smartCred         // SMART Backend Services instead of token
	onPage                          func(c PullCounts) // hears the counts of the type being pulled after each page
	types                           []string
	every                           time.Duration
}

// PullCounts are the counts of one pull.
type PullCounts struct {
	Fetched, Created, Updated, Deleted, Skipped, Pages int
}

func (c *PullCounts) add(o PullCounts) {
	c.Fetched += o.Fetched
	c.Created += o.Created
	c.Updated += o.Updated
	c.Deleted += o.Deleted
	c.Skipped += o.Skipped
	c.Pages += o.Pages
}

// pullRound pulls from one due peer whose lease it takes; it reports
// whether it pulled.
func (s *Service) pullRound(ctx context.Context) bool {
	if s.ActorFor == nil {
		return false
	}
	lock := ""
	if s.cfg.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []string
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		return tx.Raw(`UPDATE endpoint_state SET lease_owner = ?, lease_until = ? WHERE id IN (
			SELECT e.id FROM endpoint_state e JOIN admin_resources r ON r.type = 'Endpoint' AND r.id = e.id
			WHERE r.status = 'active' AND e.next_pull <= ? AND e.lease_until < ? LIMIT 1`+lock+`) RETURNING id`,
			s.cfg.Instance, now+(10*time.Minute).Microseconds(), now, now).Scan(&ids).Error
	})
	if err != nil || len(ids) == 0 {
		return false
	}
	_, err = s.pullLeased(ctx, ids[0], TriggerDue)
	return err == nil
}

// Sync pulls from Endpoint id now (admins only) and answers its counts.
func (s *Service) Sync(ctx context.Context, id string) (map[string]any, error) {
	if !registry.ActorFrom(ctx).HasRole("admin") {
		return nil, registry.Errorf(registry.EForbidden, "only admins run $sync")
	}
	if _, err := s.ReadDirectory(ctx, "Endpoint", id); err != nil {
		return nil, err
	}
	if err := s.leaseEndpoint(ctx, id); err != nil {
		return nil, err
	}
	c, err := s.pullLeased(ctx, id, TriggerSync)
	if err != nil {
		return nil, registry.Errorf(registry.EConflict, "pull from Endpoint/%s failed: %v", id, err)
	}
	p := func(name string, n int) map[string]any { return map[string]any{"name": name, "valueInteger": n} }
	return map[string]any{"resourceType": "Parameters", "parameter": []any{p("fetched", c.Fetched), p("created", c.Created),
		p("updated", c.Updated), p("deleted", c.Deleted), p("skipped", c.Skipped), p("pages", c.Pages)}}, nil
}

// leaseEndpoint takes Endpoint id's pull lease, waiting (up to a minute)
// while another pull holds it: one pull per peer at a time.
func (s *Service) leaseEndpoint(ctx context.Context, id string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var n int64
		err := s.db.Write(ctx, func(tx *gorm.DB) error {
			now, err := s.leaseNow(tx)
			if err != nil {
				return err
			}
			res := tx.Exec(`UPDATE endpoint_state SET lease_owner = ?, lease_until = ? WHERE id = ? AND lease_until < ?`,
				s.cfg.Instance, now+(10*time.Minute).Microseconds(), id, now)
			n = res.RowsAffected
			return res.Error
		})
		switch {
		case err != nil:
			return registry.Internal(err)
		case n == 1:
			return nil
		case time.Now().After(deadline):
			return registry.Errorf(registry.EConflict, "a pull from Endpoint/%s is running; try again", id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pullLeased pulls every type of one peer and records its health and the
// run in its history.
func (s *Service) pullLeased(ctx context.Context, id, trigger string) (PullCounts, error) {
	var total PullCounts
	var notified int64 // the notifications before this pull reads anything
	err := s.db.Read().WithContext(ctx).Raw(`SELECT notified FROM endpoint_state WHERE id = ?`, id).Scan(&notified).Error
	run := s.startRun(ctx, id, trigger)
	var pr *peer
	if err == nil {
		pr, err = s.peerOf(ctx, id)
	}
	if err == nil {
		for _, typ := range pr.types {
			before := total
			pr.onPage = func(c PullCounts) {
				now := before
				now.add(c)
				s.updateRun(ctx, run, id, now, false, nil)
			}
			var c PullCounts
			c, err = s.pullType(ctx, pr, typ)
			total.add(c)
			if err != nil {
				break
			}
		}
	}
	s.updateRun(ctx, run, id, total, true, err)
	s.recordPull(ctx, id, pr, total, notified, err)
	return total, err
}

// recordPull ends a pull: its health, and when the next is due. A
// notification received since the pull began (notified counts those
// before) makes the next due now: the pull may have read the peer's
// history before the notified change, and its interval may be hours.
func (s *Service) recordPull(ctx context.Context, id string, pr *peer, c PullCounts, notified int64, cause error) {
	every := defaultPullGap
	if pr != nil && pr.every > 0 {
		every = pr.every
	}
	s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		if cause == nil {
			return tx.Exec(`UPDATE endpoint_state SET last_success = ?, failures = 0, next_pull = CASE WHEN notified > ? THEN 0 ELSE ? END,
				pulled = pulled + ?, lease_owner = '', lease_until = 0 WHERE id = ?`,
				now, notified, now+every.Microseconds(), c.Created+c.Updated+c.Deleted, id).Error
		}
		var st endpointState
		tx.Where("id = ?", id).Take(&st)
		msg := cause.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return tx.Exec(`UPDATE endpoint_state SET last_error = ?, last_error_at = ?, failures = failures + 1, next_pull = ?, pulled = pulled + ?, lease_owner = '', lease_until = 0 WHERE id = ?`,
			msg, now, now+min(every, s.backoff(st.Failures+1)).Microseconds(), c.Created+c.Updated+c.Deleted, id).Error
	})
	if cause != nil {
		s.log.Warn("pull failed", "endpoint", id, "err", cause)
	}
}

// peerOf reads Endpoint id's pull settings and secret.
func (s *Service) peerOf(ctx context.Context, id string) (*peer, error) {
	var row dirRow
	if err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint' AND id = ?", id).Take(&row).Error; err != nil {
		return nil, err
	}
	var res map[string]any
	if err := json.Unmarshal(row.Body, &res); err != nil {
		return nil, err
	}
	st, err := s.endpointState(ctx, s.db.Read(), id)
	if err != nil {
		return nil, err
	}
	pr := &peer{id: id, types: extensionValues(res, ExtPullType, "valueCode")}
	if pr.token, err = s.cfg.Secrets.Open(st.Secret, bearerAt(id)); err != nil {
		return pr, err
	}
	keyPEM, err := s.cfg.Secrets.Open(st.SmartKey, smartKeyAt(id))
	if err != nil {
		return pr, err
	}
	if pr.smart, err = smartOf(res, keyPEM); err != nil {
		return pr, err
	}
	pr.base, _ = res["address"].(string)
	pr.base = strings.TrimSuffix(pr.base, "/")
	if cs := extensionValues(res, ExtClient, "valueString"); len(cs) > 0 {
		pr.client = cs[0]
	}
	if ss := extensionValues(res, ExtSourceSystem, "valueUri"); len(ss) > 0 {
		pr.system = ss[0]
	}
	if n, _ := intExtension(res, ExtPullEvery, "valueUnsignedInt"); n > 0 {
		pr.every = time.Duration(n) * time.Second
	}
	if pr.client == "" {
		return pr, fmt.Errorf("Endpoint/%s names no idem client to pull as (extension %s)", id, ExtClient)
	}
	return pr, nil
}

// LocalID is the id a peer's record gets here.
func LocalID(endpoint, typ, remoteID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("idem:pull/"+endpoint+"/"+typ+"/"+remoteID)).String()
}

// fetch GETs one history page from the peer; with SMART credentials a
// refused access token is renewed once.
func (s *Service) fetch(ctx context.Context, pr *peer, u string) (map[string]any, time.Time, error) {
	b, h, err := s.fetchPage(ctx, pr, u)
	return b, peerClock(h), err
}

func (s *Service) fetchPage(ctx context.Context, pr *peer, u string) (map[string]any, http.Header, error) {
	resp, err := s.get(ctx, pr, u)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && pr.smart != nil {
		resp.Body.Close()
		s.forgetToken(pr)
		resp, err = s.get(ctx, pr, u)
	}
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if len(body) > maxPageBytes {
		return nil, nil, fmt.Errorf("GET %s: page over %d bytes", u, maxPageBytes)
	}
	var b map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers pass through unchanged
	if err := dec.Decode(&b); err != nil || b["resourceType"] != "Bundle" {
		return nil, nil, fmt.Errorf("GET %s: not a Bundle", u)
	}
	return b, resp.Header, nil
}

// get sends one authenticated GET to the peer.
func (s *Service) get(ctx context.Context, pr *peer, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	token := pr.token
	if pr.smart != nil {
		if token, err = s.accessToken(ctx, pr); err != nil {
			return nil, err
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.client.Do(req)
}

// historyURL is the first page of typ's history since the cursor.
func historyURL(base, typ, since string) string {
	q := url.Values{"_count": {"500"}}
	if since != "" {
		q.Set("_since", since)
	}
	return base + "/" + typ + "/_history?" + q.Encode()
}

// Notified is a peer's notification (its Subscription's rest-hook points
// at Endpoint/{id}/$notify): pull from it now instead of at its next
// interval — the notified pull of a source of truth's read-only copies.
// The caller is an admin or the client the Endpoint pulls as.
func (s *Service) Notified(ctx context.Context, id string) error {
	pr, err := s.peerOf(ctx, id)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return registry.Errorf(registry.ENotFound, "Endpoint/%s is not known", id)
	}
	a := registry.ActorFrom(ctx)
	if pr == nil || !(a.HasRole("admin") || (a.Kind == "client" && a.Name == pr.client)) {
		return registry.Errorf(registry.EForbidden, "only the Endpoint's own client or an admin may notify it")
	}
	err = s.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE endpoint_state SET next_pull = 0, notified = notified + 1 WHERE id = ?`, id).Error
	})
	if err != nil {
		return registry.Internal(err)
	}
	s.Wake()
	return nil
}
