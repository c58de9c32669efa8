package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"gorm.io/gorm"

	"idem/registry"
)

// Traversal: a record a client pushes may refer to a record on a peer by
// its absolute URL. PeerRecord tells which registered Endpoint that URL is
// on and which local id the peer's record has here (the id a pull gives
// it, LocalID), and Follow fetches the record from the peer (through the
// outbound allow-list, with the Endpoint's credentials) and registers it
// here as that peer's record — written through the pipeline as the
// Endpoint's client, recorded in pull_map like a pulled one.

// peerBases returns the Endpoints' ids by their base URL (no trailing slash).
func (s *Service) peerBases(ctx context.Context) (map[string]string, error) {
	var rows []dirRow
	if err := s.db.Read().WithContext(ctx).Where("type = 'Endpoint'").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		var res map[string]any
		if json.Unmarshal(r.Body, &res) != nil {
			continue
		}
		if addr, _ := res["address"].(string); addr != "" {
			out[strings.TrimSuffix(addr, "/")] = r.ID
		}
	}
	return out, nil
}

// splitPeerRef splits "{base}/{Type}/{id}[/_history/{v}]" into its parts.
func splitPeerRef(ref string) (base, typ, id string, ok bool) {
	parts := strings.Split(ref, "/")
	n := len(parts)
	if n >= 6 && parts[n-2] == "_history" {
		parts, n = parts[:n-2], n-2
	}
	if n < 5 || !registry.IsType(parts[n-2]) || parts[n-1] == "" {
		return "", "", "", false
	}
	return strings.Join(parts[:n-2], "/"), parts[n-2], parts[n-1], true
}

// PeerRecord returns the Endpoint ref is on, the type, and the local id
// the peer's record has here; ok is false when ref is not a record URL on
// a registered peer.
func (s *Service) PeerRecord(ctx context.Context, ref string) (endpoint, typ, local string, ok bool) {
	base, typ, id, ok := splitPeerRef(ref)
	if !ok {
		return "", "", "", false
	}
	bases, err := s.peerBases(ctx)
	if err != nil {
		s.log.Warn("reading the endpoint registry", "err", err)
		return "", "", "", false
	}
	ep, ok := bases[base]
	if !ok {
		return "", "", "", false
	}
	return ep, typ, LocalID(ep, typ, id), true
}

// Follow fetches the peers' records refs point at and registers each here
// as its peer's record; it reports whether it registered any. A record
// the peer does not have, or that is not valid R4, is skipped; a peer that
// does not answer is an error.
func (s *Service) Follow(ctx context.Context, refs []registry.Unresolved) (bool, error) {
	if s.ActorFor == nil {
		return false, nil
	}
	found := false
	var errs []error
	for _, u := range refs {
		ok, err := s.followOne(ctx, u)
		found = found || ok
		if err != nil {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

func (s *Service) followOne(ctx context.Context, u registry.Unresolved) (bool, error) {
	pr, err := s.peerOf(ctx, u.Peer)
	if err != nil {
		return false, err
	}
	base, typ, remote, ok := splitPeerRef(u.URL)
	if !ok || base != pr.base {
		return false, fmt.Errorf("%s is not a record on Endpoint/%s", u.URL, u.Peer)
	}
	actor, err := s.ActorFor(ctx, pr.client)
	if err != nil {
		return false, err
	}
	if pr.system != "" && actor.System != pr.system {
		return false, errors.New("the Endpoint's source system is not the system of client " + pr.client)
	}
	res, err := s.fetchResource(ctx, pr, base+"/"+typ+"/"+remote)
	if err != nil || res == nil {
		return false, err
	}
	if res["resourceType"] != typ || res["id"] != remote {
		return false, fmt.Errorf("GET %s/%s/%s: the peer answered with another resource", base, typ, remote)
	}
	local := LocalID(pr.id, typ, remote)
	body, err := copyResource(res, local, typ)
	if err != nil {
		s.log.Warn("followed record is not valid R4: not registered", "endpoint", pr.id, "ref", u.URL, "err", err)
		return false, nil
	}
	version := "1"
	if meta, _ := res["meta"].(map[string]any); meta != nil {
		if v, _ := meta["versionId"].(string); v != "" {
			version = v
		}
	}
	var c PullCounts
	wctx := registry.WithActor(ctx, actor)
	if err := s.applyWrites(wctx, typ, []pulledEntry{{remote: remote, local: local, version: version, body: body}}, &c); err != nil {
		return false, err
	}
	return true, s.recordPulled(ctx, pr.id, typ, remote, local, version)
}

// recordPulled notes in pull_map the version of a peer's record applied here.
func (s *Service) recordPulled(ctx context.Context, ep, typ, remote, local, version string) error {
	return s.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO pull_map (endpoint_id, type, remote_id, local_id, version) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id, type, remote_id) DO UPDATE SET version = excluded.version`, ep, typ, remote, local, version).Error
	})
}

// fetchResource GETs one resource from the peer; nil for 404 and 410.
func (s *Service) fetchResource(ctx context.Context, pr *peer, u string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if pr.token != "" {
		req.Header.Set("Authorization", "Bearer "+pr.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var res map[string]any
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxPageBytes))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("GET %s: not JSON", u)
	}
	return res, nil
}
