package web

import (
	"context"
	"encoding/json"
	"idem/registry/fhir"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"idem/registry"
)

// Federation is the search across linked servers: the Endpoint registry's
// peers asked in parallel, the identity table of their records here, and
// the frozen result sets paging reads from.
type Federation interface {
	SearchPeers(ctx context.Context, typ string, params url.Values, count int, timeout time.Duration, caller registry.Actor) ([]registry.PeerAnswer, error)
	// LocalCopy returns the local id of the peer's record, "" for none.
	LocalCopy(ctx context.Context, endpoint, typ, remote string) (string, error)
	// IsPeerClient reports whether client is a registered peer.
	IsPeerClient(ctx context.Context, client string) bool
	Freeze(ctx context.Context, owner, query string, body []byte, ttl time.Duration) (string, error)
	Frozen(ctx context.Context, id, owner string) (query string, body []byte, err error)
}

// Entry extensions of a federated search: the base of the server an entry
// came from, and the records collapsed into it (linked to the same golden
// record).
const (
	ExtFederatedOrigin = "http://idem.dev/fhir/StructureDefinition/federated-origin"
	ExtFederatedSame   = "http://idem.dev/fhir/StructureDefinition/federated-same-as"
)

// federatedMax is the most matches taken from each server into one
// frozen result set.
const federatedMax = 200

// federatedSet is a frozen result set: the merged entries and an outcome
// per peer that failed, with the query it answers.
type federatedSet struct {
	Query    string           `json:"query"`
	Entries  []map[string]any `json:"entries"`
	Outcomes []map[string]any `json:"outcomes"`
}

// handleFederated answers typ?_federated=true&...: the first call searches
// here and on every peer and freezes the merged set; the paging links
// name the set (_set) and read from it.
func (s *Server) handleFederated(c *fiber.Ctx, typ string, params url.Values) error {
	if s.cfg.Federation == nil {
		return registry.Invalid(registry.EInvalid, "not-supported", "_federated", "this server has no linked servers to search")
	}
	if v := params.Get("_federated"); v != "true" {
		return registry.Invalid(registry.EInvalid, "value", "_federated", "_federated must be true (got %q)", v)
	}
	offset, count, err := federatedPaging(params)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	caller := registry.ActorFrom(ctx)
	owner := caller.Kind + "/" + caller.Name
	setID := params.Get("_set")
	var set federatedSet
	if setID != "" {
		_, body, err := s.cfg.Federation.Frozen(ctx, setID, owner)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &set); err != nil {
			return registry.Internal(err)
		}
	} else {
		if set, err = s.federate(c, typ, params); err != nil {
			return err
		}
		body, _ := json.Marshal(set)
		if setID, err = s.cfg.Federation.Freeze(ctx, owner, set.Query, body, s.cfg.FederatedTTL); err != nil {
			return err
		}
	}
	b := federatedPage(s.base(c), typ, setID, &set, offset, count)
	s.auditFederated(c, setID, &set, offset, count)
	return s.sendJSON(c, fiber.StatusOK, b)
}

// federatedPaging reads _offset and _count.
func federatedPaging(params url.Values) (offset, count int, err error) {
	count = 20
	if v := params.Get("_count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 {
			return 0, 0, registry.Invalid(registry.EInvalid, "invalid", "_count", "_count must be a positive integer (got %q)", v)
		}
		count = min(count, 500)
	}
	if v := params.Get("_offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, registry.Invalid(registry.EInvalid, "invalid", "_offset", "_offset must be a number from 0 (got %q)", v)
		}
	}
	return offset, count, nil
}

// federate searches here (as the caller) and on every peer (as idem, for
// the caller), merges the answers and collapses the records linked to one
// golden record.
func (s *Server) federate(c *fiber.Ctx, typ string, params url.Values) (federatedSet, error) {
	ctx := c.UserContext()
	local := url.Values{}
	for k, v := range params {
		switch k {
		case "_federated", "_set", "_offset", "_count", "_cursor":
		default:
			local[k] = v
		}
	}
	set := federatedSet{Query: typ + "?" + local.Encode()}
	if err := s.allowSearch(ctx, typ, local); err != nil {
		return set, err
	}
	strict := preferValue(c, "handling") == "strict"
	own := url.Values{}
	for k, v := range local {
		own[k] = v
	}
	own.Set("_count", strconv.Itoa(federatedMax))
	_, res, err := s.registry.Search(ctx, typ, own, strict)
	if err != nil {
		return set, err
	}
	answers, err := s.cfg.Federation.SearchPeers(ctx, typ, local, federatedMax, s.cfg.FederatedTimeout, registry.ActorFrom(ctx))
	if err != nil {
		return set, err
	}
	m := merger{s: s, ctx: ctx, typ: typ, byKey: map[string]map[string]any{}}
	base := s.base(c)
	for _, r := range res.Matches {
		if err := m.addLocal(base, r); err != nil {
			return set, err
		}
	}
	for _, a := range answers {
		if a.Err != nil {
			set.Outcomes = append(set.Outcomes, peerOutcome(a))
			continue
		}
		for _, e := range a.Entries {
			if err := m.addPeer(a, e); err != nil {
				return set, err
			}
		}
	}
	set.Entries = m.entries
	return set, nil
}

// peerOutcome is the outcome entry of a peer that failed or timed out.
func peerOutcome(a registry.PeerAnswer) map[string]any {
	oo := fhir.OperationOutcome([]fhir.Issue{{Severity: fhir.SeverityWarning, Code: "incomplete",
		Diagnostics: "Endpoint/" + a.Endpoint + " (" + a.Base + ") is missing from these results: " + a.Err.Error()}})
	return map[string]any{"fullUrl": "urn:uuid:" + uuid.NewString(), "resource": oo, "search": map[string]any{"mode": "outcome"}}
}

// federatedPage is one page of a frozen set: its entries, then the
// outcome of each peer that failed (on every page), with paging links that
// name the set.
func federatedPage(base, typ, setID string, set *federatedSet, offset, count int) map[string]any {
	b := newBundle("searchset")
	b["total"] = len(set.Entries)
	u := func(off int) string {
		return base + "/" + typ + "?" + url.Values{"_federated": {"true"}, "_set": {setID},
			"_offset": {strconv.Itoa(off)}, "_count": {strconv.Itoa(count)}}.Encode()
	}
	links := []any{link("self", u(offset))}
	if offset+count < len(set.Entries) {
		links = append(links, link("next", u(offset+count)))
	}
	if offset > 0 {
		links = append(links, link("previous", u(max(0, offset-count))))
	}
	b["link"] = links
	var entries []any
	for _, e := range pageOf(set.Entries, offset, count) {
		entries = append(entries, e)
	}
	for _, o := range set.Outcomes {
		entries = append(entries, o)
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

func pageOf(all []map[string]any, offset, count int) []map[string]any {
	if offset >= len(all) {
		return nil
	}
	return all[offset:min(len(all), offset+count)]
}

// auditFederated records what the caller saw, and from which server: the
// records of the page by their full URLs, the set, and per origin the count.
func (s *Server) auditFederated(c *fiber.Ctx, setID string, set *federatedSet, offset, count int) {
	page := pageOf(set.Entries, offset, count)
	var records []string
	from := map[string]int{}
	for _, e := range page {
		full, _ := e["fullUrl"].(string)
		records = append(records, full)
		from[originOf(e)]++
	}
	extra := map[string]string{"federated-set": setID}
	for origin, n := range from {
		extra["from "+origin] = strconv.Itoa(n)
	}
	for _, o := range set.Outcomes {
		issues, _ := o["resource"].(map[string]any)["issue"].([]any)
		if len(issues) > 0 {
			d, _ := issues[0].(map[string]any)["diagnostics"].(string)
			extra["incomplete "+strconv.Itoa(len(extra))] = d
		}
	}
	s.auditRead(c, readAudit{action: "E", subtype: "search-type", query: set.Query + "&_federated=true", records: records, total: len(set.Entries), extra: extra})
}

// originOf is the base URL an entry came from.
func originOf(e map[string]any) string {
	exts, _ := e["extension"].([]any)
	for _, x := range exts {
		if xm, _ := x.(map[string]any); xm["url"] == ExtFederatedOrigin {
			v, _ := xm["valueUrl"].(string)
			return v
		}
	}
	return ""
}
