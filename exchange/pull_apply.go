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
	if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
		from = t.Add(-pullOverlap).UTC().Format(time.RFC3339Nano)
	}
	newest := since
	next := historyURL(pr.base, typ, from)
	for page := 0; next != "" && page < maxPullPages; page++ {
		b, err := s.fetch(ctx, pr, next)
		if err != nil {
			return c, err
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
		for _, e := range entries {
			em, _ := e.(map[string]any)
			at, err := s.applyEntry(wctx, pr, typ, em, &c)
			if err != nil {
				return c, err
			}
			if at > newest {
				newest = at
			}
		}
	}
	if newest != since {
		err = s.db.Write(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`INSERT INTO pull_cursors (endpoint_id, type, since) VALUES (?, ?, ?)
				ON CONFLICT (endpoint_id, type) DO UPDATE SET since = excluded.since`, pr.id, typ, newest).Error
		})
	}
	return c, err
}

// applyEntry writes one history entry through the pipeline unless its
// version was applied already; it returns the entry's lastModified.
func (s *Service) applyEntry(ctx context.Context, pr *peer, typ string, e map[string]any, c *PullCounts) (string, error) {
	c.Fetched++
	res, _ := e["resource"].(map[string]any)
	req, _ := e["request"].(map[string]any)
	resp, _ := e["response"].(map[string]any)
	remote := ""
	if res != nil {
		remote, _ = res["id"].(string)
	}
	if remote == "" {
		full, _ := e["fullUrl"].(string)
		remote = full[strings.LastIndex(full, "/")+1:]
	}
	etag, _ := resp["etag"].(string)
	version := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	at, _ := resp["lastModified"].(string)
	if meta, _ := res["meta"].(map[string]any); meta != nil {
		if v, _ := meta["versionId"].(string); v != "" {
			version = v
		}
		if l, _ := meta["lastUpdated"].(string); l != "" {
			at = l
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = t.UTC().Format(time.RFC3339Nano)
	}
	if remote == "" || version == "" || (res != nil && res["resourceType"] != typ) {
		c.Skipped++
		return at, nil
	}
	var applied string
	s.db.Read().WithContext(ctx).Raw(`SELECT version FROM pull_map WHERE endpoint_id = ? AND type = ? AND remote_id = ?`, pr.id, typ, remote).Scan(&applied)
	if applied != "" && !newer(version, applied) {
		c.Skipped++
		return at, nil
	}
	local := LocalID(pr.id, typ, remote)
	var err error
	if req["method"] == "DELETE" || res == nil {
		_, err = s.reg.Delete(ctx, typ, local)
		if registry.ErrorCode(err) == registry.ENotFound {
			err = nil
		}
		c.Deleted++
	} else {
		body, verr := copyResource(res, local, typ)
		if verr != nil {
			s.log.Warn("pulled record is not valid R4: skipped", "endpoint", pr.id, "type", typ, "id", remote, "err", verr)
			c.Skipped++
			return at, nil
		}
		var out *registry.Outcome
		out, err = s.reg.Update(ctx, typ, local, body, 0)
		if out != nil && out.Created {
			c.Created++
		} else {
			c.Updated++
		}
	}
	if err != nil {
		return at, err
	}
	err = s.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO pull_map (endpoint_id, type, remote_id, local_id, version) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id, type, remote_id) DO UPDATE SET version = excluded.version`, pr.id, typ, remote, local, version).Error
	})
	return at, err
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
	return registry.ParseResource(raw, typ)
}
