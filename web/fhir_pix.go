package web

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// pixDefinition is the OperationDefinition of IHE PIXm's $ihe-pix (ITI-83).
const pixDefinition = "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix"

// handlePIX answers GET [base]/{type}/$ihe-pix?sourceIdentifier=sys|val
// [&targetSystem=uri] (IHE PIXm ITI-83, also for Practitioner and
// Location): the identifiers and records of the entity the identified
// record belongs to, through its golden record.
func (s *Server) handlePIX(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	if !linkage.Matchable(typ) {
		return registry.Errorf(registry.ENotFound, "$ihe-pix is defined for Patient, Practitioner and Location, not %s", typ)
	}
	_, ls, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$ihe-pix", "sourceIdentifier", "targetSystem")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	recs, err := s.pixSource(ctx, typ, p)
	if err != nil {
		return err
	}
	targets := p.list("targetSystem")
	for _, sys := range targets {
		known, err := s.knownDomain(ctx, typ, sys)
		if err != nil {
			return err
		}
		if !known {
			return pixError(registry.EForbidden, "targetSystem", "targetSystem %q is not a domain this registry knows for %s", sys, typ)
		}
	}
	x := &crossRef{typ: typ, seen: map[string]bool{}, ids: map[string]bool{}, targets: targets}
	if err := s.crossReference(ctx, ls, x, recs); err != nil {
		return err
	}
	s.auditRead(c, readAudit{action: "E", subtype: "$ihe-pix", query: typ + "/$ihe-pix?" + string(c.Request().URI().QueryString()),
		records: slices.Sorted(maps.Keys(x.seen)), total: -1})
	return s.sendJSON(c, fiber.StatusOK, parameters(append(x.identifiers, x.refs...)))
}

// pixSource finds the current records with the source identifier: 404
// when there are none in a known domain, 400 when the domain is unknown.
func (s *Server) pixSource(ctx context.Context, typ string, p *opParams) ([]*registry.Resource, error) {
	raw, err := p.one("sourceIdentifier")
	if err != nil {
		return nil, err
	}
	if raw == "" {
		return nil, p.missing("sourceIdentifier")
	}
	sys, val, ok := strings.Cut(raw, "|")
	if !ok || sys == "" || val == "" {
		return nil, pixError(registry.EInvalid, "sourceIdentifier", "sourceIdentifier %q: want system|value", raw)
	}
	_, res, err := s.registry.Search(ctx, typ, url.Values{"identifier": {raw}, "_count": {"100"}}, true)
	if err != nil {
		return nil, pixError(registry.EInvalid, "sourceIdentifier", "sourceIdentifier %q: %s", raw, registry.ErrorMessage(err))
	}
	if len(res.Matches) > 0 {
		return res.Matches, nil
	}
	known, err := s.knownDomain(ctx, typ, sys)
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, pixError(registry.EInvalid, "sourceIdentifier", "sourceIdentifier %q: %q is not a domain this registry knows for %s", raw, sys, typ)
	}
	return nil, registry.Invalid(registry.ENotFound, "not-found", "sourceIdentifier", "no %s has identifier %s", typ, raw)
}

// knownDomain reports whether some current record of typ has an identifier
// in system; every Person has one in urn:idem:person.
func (s *Server) knownDomain(ctx context.Context, typ, system string) (bool, error) {
	if system == linkage.PersonIDSystem && typ != registry.TypeLocation {
		return true, nil
	}
	_, res, err := s.registry.Search(ctx, typ, url.Values{"identifier": {escapeToken(system) + "|"}, "_count": {"1"}}, true)
	if err != nil {
		return false, err
	}
	return len(res.Matches) > 0, nil
}

// escapeToken escapes the characters FHIR search gives a meaning.
func escapeToken(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`).Replace(s)
}

// pixError is an error with the issue code PIXm asks for: code-invalid
// for an unknown domain.
func pixError(code, expr, format string, args ...any) error {
	return registry.Invalid(code, "code-invalid", expr, format, args...)
}

// crossRef collects the answer of $ihe-pix.
type crossRef struct {
	typ         string
	targets     []string
	seen        map[string]bool // records and golden records listed
	ids         map[string]bool // system|value listed
	identifiers []any           // targetIdentifier parameters
	refs        []any           // targetId parameters
}

// crossReference lists the found records, every record linked (MATCH) to
// their golden records, and the golden records themselves.
func (s *Server) crossReference(ctx context.Context, ls registry.LinkStore, x *crossRef, recs []*registry.Resource) error {
	var goldens []registry.Ref
	for _, r := range recs {
		if err := x.addRecord(r); err != nil {
			return err
		}
		page, err := ls.QueryLinks(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: r.ID, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			return err
		}
		for _, k := range page.Links {
			if !slices.Contains(goldens, k.GoldenRef()) {
				goldens = append(goldens, k.GoldenRef())
			}
		}
	}
	for _, g := range goldens {
		page, err := ls.QueryLinks(ctx, registry.LinkFilter{GoldenType: g.Type, GoldenID: g.ID, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			return err
		}
		for _, k := range page.Links {
			if err := s.addLinked(ctx, x, k.SourceType, k.SourceID); err != nil {
				return err
			}
		}
	}
	for _, g := range goldens {
		if err := s.addLinked(ctx, x, g.Type, g.ID); err != nil {
			return err
		}
	}
	return nil
}

// addLinked reads and adds a linked record, unless it is listed already or
// was deleted.
func (s *Server) addLinked(ctx context.Context, x *crossRef, typ, id string) error {
	if x.seen[typ+"/"+id] {
		return nil
	}
	r, err := s.registry.Read(ctx, typ, id)
	switch registry.ErrorCode(err) {
	case "":
		return x.addRecord(r)
	case registry.EGone, registry.ENotFound:
		return nil
	}
	return err
}

// addRecord lists a record and its identifiers; of a Person, only its own
// urn:idem:person identifier (the others are its records').
func (x *crossRef) addRecord(r *registry.Resource) error {
	ref := r.Type + "/" + r.ID
	if x.seen[ref] {
		return nil
	}
	x.seen[ref] = true
	body, err := registry.DecodeStored(r)
	if err != nil {
		return err
	}
	list, _ := body["identifier"].([]any)
	for _, e := range list {
		id, _ := e.(map[string]any)
		sys, _ := id["system"].(string)
		val, _ := id["value"].(string)
		key := sys + "|" + val
		switch {
		case val == "" || x.ids[key]:
		case r.Type == registry.TypePerson && sys != linkage.PersonIDSystem:
		case len(x.targets) > 0 && !slices.Contains(x.targets, sys):
		default:
			x.ids[key] = true
			x.identifiers = append(x.identifiers, param("targetIdentifier", "valueIdentifier", id))
		}
	}
	x.refs = append(x.refs, param("targetId", "valueReference", map[string]any{"reference": ref}))
	return nil
}
