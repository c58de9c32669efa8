package web

import (
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
)

// submitModelDryRun is $mdm-submit with model=N and dryRun=true: what
// applying candidate model N would change for the type — counts by kind
// and sample changes with their evidence — answered at once (the dry run
// re-matches in a transaction that is rolled back, and keeps its summary in
// the model's report). Nothing is applied: a steward applies through the
// admin UI or API.
func (s *Server) submitModelDryRun(c *fiber.Ctx, p *opParams) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	typ, err := p.required(pType)
	if err != nil {
		return err
	}
	if !linkage.Matchable(typ) {
		return p.invalid(pType, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	raw, err := p.one("model")
	if err != nil {
		return err
	}
	version, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil || version <= 0 {
		return p.invalid("model", "model %q: want a model version (a positive number)", raw)
	}
	dry, err := p.boolean("dryRun")
	if err != nil {
		return err
	}
	if !dry {
		return p.invalid("dryRun", "model is only taken with dryRun=true: a candidate is applied by a steward (admin UI or POST /admin/api/models/%d/apply)", version)
	}
	if len(p.vals["criteria"]) > 0 {
		return p.invalid("criteria", "a model's dry run re-matches every record of the type: criteria is not taken with model")
	}
	rs, err := cal.DryRun(actorContext(c), version)
	if err != nil {
		return err
	}
	params := []any{param("model", "valueInteger", version), param("dryRun", "valueBoolean", true), param(pType, "valueString", typ)}
	i := slices.IndexFunc(rs, func(r *linkage.Rematch) bool { return r.Type == typ })
	if i < 0 {
		// the model changes nothing for this type: no record would change
		return s.sendJSON(c, fiber.StatusOK, parameters(append(params, param("changed", "valueInteger", 0))))
	}
	return s.sendJSON(c, fiber.StatusOK, parameters(append(params, rematchParams(linkage.Summarise(rs[i], s.now()))...)))
}

// rematchParams describes a model's re-match of one type: counts by kind
// and the sample changes, each with its best match's score and evidence.
func rematchParams(r linkage.RematchSummary) []any {
	params := []any{param("modelVersion", "valueString", r.ModelVersion), param("records", "valueInteger", r.Records),
		param("changed", "valueInteger", r.Changed)}
	kinds := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		params = append(params, part("count", []any{param("kind", "valueCode", k), param("records", "valueInteger", r.Counts[k])}))
	}
	for _, ch := range r.Samples {
		parts := appendString(nil, "source", ch.Source)
		parts = appendString(parts, "kind", ch.Kind)
		parts = appendString(parts, "from", ch.From)
		parts = appendString(parts, "to", ch.To)
		for _, g := range ch.Review {
			parts = append(parts, param("review", "valueString", g))
		}
		if ch.Grade != "" {
			parts = append(parts, param("score", "valueDecimal", ch.Score), param("grade", "valueCode", ch.Grade))
		}
		if ch.Evidence != nil {
			for _, ev := range ch.Evidence.Fields {
				parts = append(parts, part("evidence", []any{param("field", "valueString", ev.Field),
					param("level", "valueCode", ev.Level), param("weight", "valueDecimal", ev.Weight)}))
			}
		}
		params = append(params, part("change", parts))
	}
	return params
}
