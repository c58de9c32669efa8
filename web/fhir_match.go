package web

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"idem/linkage"
	"idem/registry"
	"idem/registry/fhir"
)

// Extension URLs of the $match answer. The evidence extension is idem's own;
// README.md documents it.
const (
	extMatchGrade    = "http://hl7.org/fhir/StructureDefinition/match-grade"
	extMatchEvidence = "https://idem.dev/fhir/StructureDefinition/match-evidence"
)

// handleMatch answers POST [base]/{type}/$match (FHIR Patient-match, IHE
// ITI-119) for Patient, Practitioner and Location.
func (s *Server) handleMatch(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	if s.matcher == nil {
		return registry.Errorf(registry.EMethod, "$match is not available on this server")
	}
	res, opts, err := matchInput(c.Body(), typ, s.cfg.Limits)
	if err != nil {
		return err
	}
	out, err := s.matcher.Match(c.UserContext(), typ, res, opts)
	if err != nil {
		return err
	}
	found := make([]*registry.Resource, len(out.Candidates))
	for i, cand := range out.Candidates {
		found[i] = cand.Resource
	}
	s.auditRead(c, readAudit{action: "E", subtype: "$match", query: typ + "/$match " + string(c.Body()), records: versionRefs(found), total: -1})
	return s.sendJSON(c, fiber.StatusOK, s.matchBundle(c, out))
}

// matchInput reads a Parameters body (resource, onlyCertainMatches, count)
// or, as ITI-119 allows, the bare resource.
func matchInput(body []byte, typ string, limits fhir.Limits) (map[string]any, linkage.MatchOptions, error) {
	var opts linkage.MatchOptions
	if len(body) == 0 {
		return nil, opts, registry.Invalid(registry.EInvalid, "required", "Parameters", "send a Parameters resource with a %s in parameter \"resource\"", typ)
	}
	in, err := limits.ParseResource(body, "")
	if err != nil {
		return nil, opts, err
	}
	switch in["resourceType"] {
	case typ:
		return in, opts, nil
	case "Parameters":
	default:
		return nil, opts, registry.Invalid(registry.EInvalid, "invalid", "", "$match takes a Parameters resource or a %s, not %v", typ, in["resourceType"])
	}
	var res map[string]any
	params, _ := in["parameter"].([]any)
	for i, p := range params {
		pm, _ := p.(map[string]any)
		expr := "Parameters.parameter[" + strconv.Itoa(i) + "]"
		switch pm["name"] {
		case "resource":
			res, _ = pm["resource"].(map[string]any)
			if res == nil || res["resourceType"] != typ {
				return nil, opts, registry.Invalid(registry.EInvalid, "invalid", expr, "parameter \"resource\" must hold a %s", typ)
			}
		case "onlyCertainMatches":
			b, ok := pm["valueBoolean"].(bool)
			if !ok {
				return nil, opts, registry.Invalid(registry.EInvalid, "invalid", expr, "onlyCertainMatches must be a valueBoolean")
			}
			opts.OnlyCertain = b
		case "count":
			n, err := positiveInt(pm["valueInteger"])
			if err != nil {
				return nil, opts, registry.Invalid(registry.EInvalid, "invalid", expr, "count must be a positive valueInteger")
			}
			opts.Count = n
		default:
			return nil, opts, registry.Invalid(registry.EInvalid, "not-supported", expr, "unknown $match parameter %v (expected resource, onlyCertainMatches, count)", pm["name"])
		}
	}
	if res == nil {
		return nil, opts, registry.Invalid(registry.EInvalid, "required", "Parameters.parameter", "parameter \"resource\" is required")
	}
	return res, opts, nil
}

func positiveInt(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.Atoi(num.String())
	if err == nil && n < 1 {
		err = strconv.ErrRange
	}
	return n, err
}

// matchBundle builds the searchset: matches best first with score, grade and
// evidence; warnings for capped blocking keys; a note when onlyCertainMatches
// found several certain matches it could not confirm as one.
func (s *Server) matchBundle(c *fiber.Ctx, out *linkage.MatchResult) map[string]any {
	base := s.base(c)
	b := newBundle("searchset")
	b["total"] = len(out.Candidates)
	var entries []any
	for _, cand := range out.Candidates {
		entries = appendEntry(entries, base, cand.Resource, "match")
		search := entries[len(entries)-1].(map[string]any)["search"].(map[string]any)
		search["score"] = decimal(cand.Match.Probability, 4)
		search["extension"] = []any{
			map[string]any{"url": extMatchGrade, "valueCode": cand.Match.Grade},
			evidenceExtension(cand, out.ModelVersion),
		}
	}
	if issues := matchIssues(out); len(issues) > 0 {
		entries = append(entries, map[string]any{
			"fullUrl":  "urn:uuid:" + uuid.NewString(),
			"resource": fhir.OperationOutcome(issues),
			"search":   map[string]any{"mode": "outcome"},
		})
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

func matchIssues(out *linkage.MatchResult) []fhir.Issue {
	var issues []fhir.Issue
	for _, k := range out.Capped {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: "too-costly",
			Diagnostics: "blocking key " + k + " is shared by too many records to be used; records that agree only on it were not compared"})
	}
	if out.Ambiguous {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityInformation, Code: "multiple-matches",
			Diagnostics: "several records match with certainty and are not known to be the same entity; onlyCertainMatches returns none of them"})
	}
	return issues
}

func evidenceExtension(cand linkage.Candidate, model string) map[string]any {
	parts := []any{
		map[string]any{"url": "model", "valueString": model},
		map[string]any{"url": "weight", "valueDecimal": decimal(cand.Match.Weight, 3)},
	}
	for _, f := range cand.Match.Fields {
		field := []any{map[string]any{"url": "name", "valueString": f.Field}, map[string]any{"url": "level", "valueCode": f.Level}}
		if f.Left != "" {
			field = append(field, map[string]any{"url": "left", "valueString": f.Left})
		}
		if f.Right != "" {
			field = append(field, map[string]any{"url": "right", "valueString": f.Right})
		}
		field = append(field, map[string]any{"url": "weight", "valueDecimal": decimal(f.Weight, 3)})
		parts = append(parts, map[string]any{"url": "field", "extension": field})
	}
	return map[string]any{"url": extMatchEvidence, "extension": parts}
}

// decimal renders f as a FHIR decimal with at most digits fraction digits.
func decimal(f float64, digits int) json.Number {
	return json.Number(strconv.FormatFloat(f, 'f', digits, 64))
}
