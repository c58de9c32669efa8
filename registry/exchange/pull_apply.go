package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/fhir"
)

// pullType pulls one type's history from the peer, newest first as
// history pages come; a version not newer than the one applied is skipped,
// so the overlap window and the oldest-last order do no harm. The cursor
// moves to the newest lastModified seen only after every page was applied.
func (s *Service) pullType(ctx context.Context, pr *peer, typ string) (PullCounts, error) {
	var c PullCounts
	actor, err := s.ActorFor(ctx, pr.client)
	if err != nil {
		return c, err
	}
	if pr.system != "" && actor.System != pr.system {
		return c, errors.New("the Endpoint's source system is not the system of client " + pr.client)
	}
	wctx := registry.WithActor(ctx, actor)
	var since string
	s.db.Read().WithContext(ctx).Raw(`SELECT since FROM pull_cursors WHERE endpoint_id = ? AND type = ?`, pr.id, typ).Scan(&since)
	from := since
	if t := parseInstant(since); !t.IsZero() {
		from = formatInstant(t.Add(-s.cfg.PullOverlap))
	}
	newest := since
	var peerNow time.Time // the peer's clock when it answered the first page
	next := historyURL(pr.base, typ, from)
	for page := 0; next != "" && page < maxPullPages; page++ {
		b, date, err := s.fetch(ctx, pr, next)
		if err != nil {
			return c, err
		}
		if page == 0 {
			peerNow = date
		}
		c.Pages++
		next = ""
		links, _ := b["link"].([]any)
		for _, l := range links {
			if lm, _ := l.(map[string]any); lm["relation"] == "next" {
				next, _ = lm["url"].(string)
			}
		}
		entries, _ := b["entry"].([]any)
		at, err := s.applyPage(wctx, pr, typ, entries, &c)
		if err != nil {
			return c, err
		}
		if laterInstant(at, newest) {
			newest = at
		}
		if pr.onPage != nil {
			pr.onPage(c)
		}
	}
	cursor, ahead := nextCursor(since, parseInstant(newest), peerNow)
	if ahead > 0 {
		s.log.Warn("the peer's records are dated ahead of its clock: its instances' clocks disagree; the pull cursor stays at its clock",
			"endpoint", pr.id, "type", typ, "ahead", ahead.Round(time.Second).String(), "overlap", s.cfg.PullOverlap.String())
	}
	if cursor != since {
		err = s.db.Write(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`INSERT INTO pull_cursors (endpoint_id, type, since) VALUES (?, ?, ?)
				ON CONFLICT (endpoint_id, type) DO UPDATE SET since = excluded.since`, pr.id, typ, cursor).Error
		})
	}
	return c, err
}

// pulledEntry is one history entry to apply.
type pulledEntry struct {
	remote, local, version, at string
	body                       map[string]any // nil: a deletion
}

// readEntry reads a history entry's remote id, version, lastModified and
// resource; ok is false for an entry that cannot be applied.
func readEntry(typ string, e map[string]any) (p pulledEntry, ok bool) {
	res, _ := e["resource"].(map[string]any)
	req, _ := e["request"].(map[string]any)
	resp, _ := e["response"].(map[string]any)
	if res != nil {
		p.remote, _ = res["id"].(string)
	}
	if p.remote == "" {
		full, _ := e["fullUrl"].(string)
		p.remote = full[strings.LastIndex(full, "/")+1:]
	}
	etag, _ := resp["etag"].(string)
	p.version = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	p.at, _ = resp["lastModified"].(string)
	if meta, _ := res["meta"].(map[string]any); meta != nil {
		if v, _ := meta["versionId"].(string); v != "" {
			p.version = v
		}
		if l, _ := meta["lastUpdated"].(string); l != "" {
			p.at = l
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, p.at); err == nil {
		p.at = t.UTC().Format(time.RFC3339Nano)
	}
	if req["method"] != "DELETE" {
		p.body = res
	}
	return p, p.remote != "" && p.version != "" && (res == nil || res["resourceType"] == typ)
}

// applyPage applies one history page: the entries newer than what was
// applied (the highest version of each record on the page: history comes
// newest first by time, but a peer whose instances' clocks disagree can
// date a later version earlier) go through the write pipeline in one
// transaction Bundle, deletions one by one; then the versions applied are
// recorded. It returns the newest lastModified of the page.
func (s *Service) applyPage(ctx context.Context, pr *peer, typ string, entries []any, c *PullCounts) (string, error) {
	newest := ""
	var todo []pulledEntry
	ps, oks := make([]pulledEntry, len(entries)), make([]bool, len(entries))
	best := map[string]int{} // remote id → index of its highest version
	for i, e := range entries {
		em, _ := e.(map[string]any)
		ps[i], oks[i] = readEntry(typ, em)
		if j, found := best[ps[i].remote]; oks[i] && (!found || newer(ps[i].version, ps[j].version)) {
			best[ps[i].remote] = i
		}
	}
	for i, p := range ps {
		c.Fetched++
		if laterInstant(p.at, newest) {
			newest = p.at
		}
		if !oks[i] || best[p.remote] != i {
			c.Skipped++
			continue
		}
		var applied string
		s.db.Read().WithContext(ctx).Raw(`SELECT version FROM pull_map WHERE endpoint_id = ? AND type = ? AND remote_id = ?`, pr.id, typ, p.remote).Scan(&applied)
		if applied != "" && !newer(p.version, applied) {
			c.Skipped++
			continue
		}
		p.local = LocalID(pr.id, typ, p.remote)
		if p.body != nil {
			body, err := copyResource(p.body, p.local, typ)
			if err != nil {
				s.log.Warn("pulled record is not valid R4: skipped", "endpoint", pr.id, "type", typ, "id", p.remote, "err", err)
				c.Skipped++
				continue
			}
			p.body = body
		}
		todo = append(todo, p)
	}
	if err := s.applyWrites(ctx, typ, todo, c); err != nil {
		return newest, err
	}
	return newest, s.db.Write(ctx, func(tx *gorm.DB) error {
		for _, p := range todo {
			if err := tx.Exec(`INSERT INTO pull_map (endpoint_id, type, remote_id, local_id, version) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (endpoint_id, type, remote_id) DO UPDATE SET version = excluded.version`, pr.id, typ, p.remote, p.local, p.version).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// applyWrites writes the page's records: creates and updates as one
// transaction Bundle of PUTs (batches are the pipeline's unit), deletions
// one by one (an unknown record is no error).
func (s *Service) applyWrites(ctx context.Context, typ string, todo []pulledEntry, c *PullCounts) error {
	var puts []any
	for _, p := range todo {
		if p.body == nil {
			if _, err := s.reg.Delete(ctx, typ, p.local); err != nil && registry.ErrorCode(err) != registry.ENotFound {
				return err
			}
			c.Deleted++
			continue
		}
		puts = append(puts, map[string]any{"resource": p.body, "request": map[string]any{"method": "PUT", "url": typ + "/" + p.local}})
	}
	if len(puts) == 0 {
		return nil
	}
	resp, err := s.reg.Bundle(ctx, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": puts}, registry.BundleOptions{})
	if err != nil {
		return err
	}
	out, _ := resp["entry"].([]any)
	for _, e := range out {
		em, _ := e.(map[string]any)
		r, _ := em["response"].(map[string]any)
		if st, _ := r["status"].(string); strings.HasPrefix(st, "201") {
			c.Created++
		} else {
			c.Updated++
		}
	}
	return nil
}

// newer reports whether version a comes after b (numerically when both are
// numbers, otherwise whenever they differ).
func newer(a, b string) bool {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return a != b
	}
	return x > y
}

// copyResource is the peer's resource as written here: the local id, and
// none of the peer's meta (versions and lastUpdated are this server's;
// meta.source is set by the policy to the peer client's record URL).
// The copy is validated as every client write is.
func copyResource(res map[string]any, local, typ string) (map[string]any, error) {
	out := make(map[string]any, len(res))
	for k, v := range res {
		if k != "meta" && k != "text" {
			out[k] = v
		}
	}
	out["id"] = local
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return fhir.ParseResource(raw, typ)
}
