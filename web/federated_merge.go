package web

import (
	"context"
	"strings"

	"idem/registry"
)

// merger merges the entries of a federated search in order, local first:
// each record is keyed by its golden record (a peer's record through its
// local copy, when it was pulled or followed), and a record whose golden
// record is already in the set is collapsed into that entry (named in a
// same-as extension) instead of listed again.
type merger struct {
	s       *Server
	ctx     context.Context
	typ     string
	byKey   map[string]map[string]any
	entries []map[string]any
}

// addLocal adds a record of this registry.
func (m *merger) addLocal(base string, r *registry.Resource) error {
	res, err := registry.DecodeStored(r)
	if err != nil {
		return registry.Internal(err)
	}
	key, err := m.golden(r.ID)
	if err != nil {
		return err
	}
	m.add(key, map[string]any{"fullUrl": base + "/" + r.Type + "/" + r.ID, "resource": res}, base)
	return nil
}

// addPeer adds a peer's record: fullUrl at the peer, meta.source the peer
// when the record names none.
func (m *merger) addPeer(a registry.PeerAnswer, e map[string]any) error {
	res, _ := e["resource"].(map[string]any)
	remote, _ := res["id"].(string)
	full := a.Base + "/" + m.typ + "/" + remote
	if remote == "" {
		full, _ = e["fullUrl"].(string)
		remote = full[strings.LastIndex(full, "/")+1:]
	}
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		res["meta"] = meta
	}
	if _, ok := meta["source"]; !ok {
		meta["source"] = a.Base
	}
	key := full
	local, err := m.s.cfg.Federation.LocalCopy(m.ctx, a.Endpoint, m.typ, remote)
	if err != nil {
		return err
	}
	if local != "" {
		if key, err = m.golden(local); err != nil {
			return err
		}
	}
	m.add(key, map[string]any{"fullUrl": full, "resource": res}, a.Base)
	return nil
}

// add lists e under key, or collapses it into the entry already there.
func (m *merger) add(key string, e map[string]any, origin string) {
	if first, ok := m.byKey[key]; ok {
		exts, _ := first["extension"].([]any)
		first["extension"] = append(exts, map[string]any{"url": ExtFederatedSame, "valueUri": e["fullUrl"]})
		return
	}
	e["extension"] = []any{map[string]any{"url": ExtFederatedOrigin, "valueUrl": origin}}
	e["search"] = map[string]any{"mode": "match"}
	m.byKey[key] = e
	m.entries = append(m.entries, e)
}

// golden is the key of local record id: its golden record, or itself.
func (m *merger) golden(id string) (string, error) {
	if m.s.linker == nil {
		return m.typ + "/" + id, nil
	}
	page, err := m.s.linker.Links().QueryLinks(m.ctx, registry.LinkFilter{SourceType: m.typ, SourceID: id,
		MatchResult: []string{registry.MatchResultMatch}, Count: 1})
	if err != nil {
		return "", err
	}
	if len(page.Links) > 0 {
		return page.Links[0].Golden(), nil
	}
	return m.typ + "/" + id, nil
}
