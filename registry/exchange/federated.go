package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"idem/registry"
)

// Search across linked servers: a search is sent to every active peer of
// the Endpoint registry at once, each with its own timeout, with idem's
// credentials for that peer and the caller named in HeaderOnBehalfOf (the
// peer records it in its audit trail when it knows idem as a peer). The
// merged result set is frozen here (federated_results) for stable paging.

// maxFederatedBytes bounds one peer's answer.
const maxFederatedBytes = 16 << 20

// SearchPeers asks every active Endpoint's peer for typ?params (at most
// count matches each) in parallel, each within timeout, as caller.
func (s *Service) SearchPeers(ctx context.Context, typ string, params url.Values, count int, timeout time.Duration, caller registry.Actor) ([]registry.PeerAnswer, error) {
	var rows []dirRow
	if err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint' AND status = 'active'").Order("id").Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]registry.PeerAnswer, len(rows))
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.searchPeer(ctx, r.ID, typ, params, count, timeout, caller)
		}()
	}
	wg.Wait()
	return out, nil
}

func (s *Service) searchPeer(ctx context.Context, id, typ string, params url.Values, count int, timeout time.Duration, caller registry.Actor) registry.PeerAnswer {
	ans := registry.PeerAnswer{Endpoint: id}
	pr, err := s.peerOf(ctx, id)
	if pr != nil {
		ans.Base = pr.base
	}
	if pr == nil || pr.base == "" {
		ans.Err = err
		return ans
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("_count", fmt.Sprint(count))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pr.base+"/"+typ+"?"+q.Encode(), nil)
	if err != nil {
		ans.Err = err
		return ans
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set(registry.HeaderOnBehalfOf, caller.Kind+"/"+caller.Name)
	if pr.token != "" {
		req.Header.Set("Authorization", "Bearer "+pr.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		ans.Err = err
		return ans
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ans.Err = fmt.Errorf("the peer answered %s", resp.Status)
		return ans
	}
	var b map[string]any
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxFederatedBytes))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil || b["resourceType"] != "Bundle" {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ans.Err = fmt.Errorf("no answer within %s", timeout)
		} else {
			ans.Err = errors.New("the peer's answer is not a Bundle")
		}
		return ans
	}
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		search, _ := em["search"].(map[string]any)
		res, _ := em["resource"].(map[string]any)
		if res == nil || res["resourceType"] != typ || (search["mode"] != nil && search["mode"] != "match") {
			continue // the peer's own outcome entries and includes are not merged
		}
		ans.Entries = append(ans.Entries, em)
	}
	return ans
}

// LocalCopy returns the id the peer's record typ/remote has here (pulled
// or followed), "" when it has none.
func (s *Service) LocalCopy(ctx context.Context, endpoint, typ, remote string) (string, error) {
	var local string
	err := s.db.Read().WithContext(ctx).Raw(`SELECT local_id FROM pull_map WHERE endpoint_id = ? AND type = ? AND remote_id = ?`,
		endpoint, typ, remote).Scan(&local).Error
	if err != nil {
		return "", registry.Internal(err)
	}
	return local, nil
}

// IsPeerClient reports whether client is the idem client an Endpoint
// pulls as: a registered peer, whose HeaderOnBehalfOf is believed.
func (s *Service) IsPeerClient(ctx context.Context, client string) bool {
	var rows []dirRow
	if err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint'").Find(&rows).Error; err != nil {
		return false
	}
	for _, r := range rows {
		var res map[string]any
		if json.Unmarshal(r.Body, &res) == nil && contains(extensionValues(res, ExtClient, "valueString"), client) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// federatedRow is a row of federated_results.
type federatedRow struct {
	ID      string `gorm:"primaryKey"`
	Owner   string
	Query   string
	Body    []byte
	Created int64
	Expires int64
}

func (federatedRow) TableName() string { return "federated_results" }

// Freeze keeps a merged result set for owner ("client/name") until ttl
// passes, and returns its id; expired sets are removed on the way. Its
// times are on the clock leases use (cutoff.go), so an instance whose
// clock is ahead neither removes nor refuses another's set early.
func (s *Service) Freeze(ctx context.Context, owner, query string, body []byte, ttl time.Duration) (string, error) {
	row := federatedRow{ID: uuid.NewString(), Owner: owner, Query: query, Body: body}
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		row.Created, row.Expires = now, now+ttl.Microseconds()
		if err := tx.Exec(`DELETE FROM federated_results WHERE expires < ?`, now).Error; err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return "", registry.Internal(err)
	}
	return row.ID, nil
}

// Frozen returns result set id of owner and the query it answers; an
// unknown, expired or another caller's set is ENotFound (or EGone).
func (s *Service) Frozen(ctx context.Context, id, owner string) (query string, body []byte, err error) {
	var row federatedRow
	err = s.db.Read().WithContext(ctx).Where("id = ?", id).Take(&row).Error
	var now int64
	if err == nil {
		now, err = s.leaseNow(s.db.Read().WithContext(ctx))
	}
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && row.Owner != owner):
		return "", nil, registry.Errorf(registry.ENotFound, "no federated result set %s (it may have expired: search again)", id)
	case err != nil:
		return "", nil, registry.Internal(err)
	case row.Expires < now:
		return "", nil, registry.Errorf(registry.EGone, "federated result set %s expired: search again", id)
	}
	return row.Query, row.Body, nil
}
