package web

import (
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// submitModelDryRun is $mdm-submit with model=N and dryRun=true: a job
// on the durable queue works out what applying candidate model N would
// change for the type (the dry run simulates the re-match without holding
// the writer, and keeps its summary in the model's report); the answer is
// 202 with the job's $mdm-submit-status URL (modelJobStatus). Nothing is
// applied: a steward applies through the admin UI or API.
func (s *Server) submitModelDryRun(c *fiber.Ctx, p *opParams) error {
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
	ctx := actorContext(c)
	job, err := s.enqueueModelJob(ctx, linkage.OpDryRun, typ, version, "")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentLocation, s.base(c)+"/$mdm-submit-status/"+job.ID)
	return s.sendJSON(c, fiber.StatusAccepted, parameters([]any{param("jobId", "valueString", job.ID)}))
}

// modelJobStatus is $mdm-submit-status of a model's dry run: 202 with
// X-Progress while it runs, then 200 with a Parameters of what applying
// the model would change for the type asked about — counts by kind and
// sample changes with their evidence; a failed job is an OperationOutcome.
func (s *Server) modelJobStatus(c *fiber.Ctx, job *registry.BulkJob) error {
	st, err := linkage.ModelJob(job)
	if err != nil {
		return err
	}
	params := []any{param("jobId", "valueString", job.ID), param("model", "valueInteger", st.Version), param("dryRun", "valueBoolean", true)}
	if st.Type != "" {
		params = append(params, param(pType, "valueString", st.Type))
	}
	switch {
	case job.Status == registry.JobFailed:
		return registry.Errorf(registry.EUnprocessable, "dry run of model %d failed: %s", st.Version, job.Error)
	case job.Status != registry.JobDone || st.Result == nil:
		c.Set("X-Progress", modelProgress(st))
		c.Set(fiber.HeaderRetryAfter, "1")
		return s.sendJSON(c, fiber.StatusAccepted, parameters(append(params, param("status", "valueCode", "running"))))
	}
	params = append(params, param("status", "valueCode", "done"))
	i := slices.IndexFunc(st.Result.Rematch, func(r linkage.RematchSummary) bool { return r.Type == st.Type })
	if i < 0 {
		// the model changes nothing for this type: no record would change
		return s.sendJSON(c, fiber.StatusOK, parameters(append(params, param("changed", "valueInteger", 0))))
	}
	return s.sendJSON(c, fiber.StatusOK, parameters(append(params, rematchParams(st.Result.Rematch[i])...)))
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
