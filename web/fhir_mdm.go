package web

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
	"idem/registry/fhir"
)

// The MDM operations, with the names, parameters and answers of HAPI FHIR's
// MDM module, so its clients and stewardship tools work unchanged. Each is
// a thin translation to linkage.Linker (decisions) or registry.LinkStore
// (questions); README.md documents them.

// Parameter names shared by several operations.
const (
	pGolden      = "goldenResourceId"
	pResource    = "resourceId"
	pMatchResult = "matchResult"
	pType        = "resourceType"
	pOffset      = "_offset"
	pCount       = "_count"
)

// Page sizes of the link queries, as HAPI has them.
const (
	defaultLinkCount = 10
	maxLinkCount     = 100
)

// actorContext is the request context, which names the authenticated
// principal as the agent of the decision (set by authenticate).
func actorContext(c *fiber.Ctx) context.Context { return c.UserContext() }

// mdm returns the linker and its link store (the capability the linker
// was built with, not one discovered on the registry's store), or EMethod
// when this server does not link.
func (s *Server) mdm() (*linkage.Linker, registry.LinkStore, error) {
	if s.linker == nil {
		return nil, nil, registry.Errorf(registry.EMethod, "the MDM operations are not available on this server")
	}
	return s.linker, s.linker.Links(), nil
}

func (s *Server) handleMDMQueryLinks(c *fiber.Ctx) error {
	_, ls, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-query-links", pGolden, pResource, pMatchResult, "linkSource", pType,
		pOffset, pCount, "_sort", "minScore", "maxScore", "createdBefore")
	if err != nil {
		return err
	}
	f, err := queryLinksFilter(p)
	if err != nil {
		return err
	}
	page, err := ls.QueryLinks(c.UserContext(), f)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, s.linkPage(c, p, f, page))
}

// queryLinksFilter turns $mdm-query-links parameters into a LinkFilter.
func queryLinksFilter(p *opParams) (registry.LinkFilter, error) {
	f, err := pageFilter(p)
	if err != nil {
		return f, err
	}
	if f.GoldenType, f.GoldenID, err = p.ref(pGolden, registry.TypePerson, registry.TypeLinkage); err != nil {
		return f, err
	}
	sources := []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation, registry.TypePerson}
	if f.SourceType, f.SourceID, err = p.ref(pResource, sources...); err != nil {
		return f, err
	}
	typ, err := p.choice(pType, sources...)
	if err != nil {
		return f, err
	}
	if typ != "" && f.SourceType != "" && typ != f.SourceType {
		return f, p.invalid(pType, "resourceType %s contradicts resourceId %s/%s", typ, f.SourceType, f.SourceID)
	}
	f.SourceType = cmp.Or(f.SourceType, typ)
	if f.MatchResult, err = p.choices(pMatchResult, registry.MatchResultMatch, registry.MatchResultPossible,
		registry.MatchResultNoMatch, registry.MatchResultPossibleDuplicate, registry.MatchResultRedirect); err != nil {
		return f, err
	}
	if f.LinkSource, err = p.choice("linkSource", registry.LinkSourceAuto, registry.LinkSourceManual); err != nil {
		return f, err
	}
	if f.SortByScore, err = p.sortByScore(); err != nil {
		return f, err
	}
	if f.MinScore, f.MaxScore, err = p.scores(); err != nil {
		return f, err
	}
	f.CreatedBefore, err = p.before("createdBefore")
	return f, err
}

// pageFilter reads _offset and _count.
func pageFilter(p *opParams) (registry.LinkFilter, error) {
	var f registry.LinkFilter
	var err error
	if f.Offset, err = p.integer(pOffset, 0, 0, math.MaxInt32); err != nil {
		return f, err
	}
	f.Count, err = p.integer(pCount, defaultLinkCount, 1, math.MaxInt32)
	f.Count = min(f.Count, maxLinkCount) // as HAPI: a larger page is capped, not refused
	return f, err
}

func (s *Server) handleMDMDuplicates(c *fiber.Ctx) error {
	_, ls, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-duplicate-golden-resources", pOffset, pCount, pType)
	if err != nil {
		return err
	}
	f, err := pageFilter(p)
	if err != nil {
		return err
	}
	typ, err := p.choice(pType, registry.TypePatient, registry.TypePractitioner, registry.TypePerson, registry.TypeLocation, registry.TypeLinkage)
	if err != nil {
		return err
	}
	switch typ {
	case registry.TypePatient, registry.TypePractitioner, registry.TypePerson:
		f.GoldenType = registry.TypePerson
	case registry.TypeLocation, registry.TypeLinkage:
		f.GoldenType = registry.TypeLinkage
	}
	f.MatchResult = []string{registry.MatchResultPossibleDuplicate}
	page, err := ls.QueryLinks(c.UserContext(), f)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, s.linkPage(c, p, f, page))
}

// linkPage is the Parameters answer of a link query: self, next and prev
// URLs, then one "link" per link.
func (s *Server) linkPage(c *fiber.Ctx, p *opParams, f registry.LinkFilter, page *registry.LinkPage) map[string]any {
	at := func(offset int) string {
		q := url.Values{}
		for k, vs := range p.vals {
			q[k] = vs
		}
		q.Set(pOffset, strconv.Itoa(offset))
		q.Set(pCount, strconv.Itoa(f.Count))
		return s.base(c) + "/" + p.op + "?" + q.Encode()
	}
	params := []any{param("self", "valueUri", at(f.Offset))}
	if f.Offset+len(page.Links) < page.Total {
		params = append(params, param("next", "valueUri", at(f.Offset+f.Count)))
	}
	if f.Offset > 0 {
		params = append(params, param("prev", "valueUri", at(max(f.Offset-f.Count, 0))))
	}
	params = append(params, param("total", "valueInteger", page.Total))
	for _, k := range page.Links {
		params = append(params, part("link", linkParts(k)))
	}
	return parameters(params)
}

// linkParts describes a link as HAPI does, plus idem's grade, model
// version and evidence when the link was scored.
func linkParts(k *registry.Link) []any {
	parts := []any{param(pGolden, "valueString", k.Golden()), param("sourceResourceId", "valueString", k.Source())}
	parts = appendString(parts, pMatchResult, k.MatchResult)
	parts = appendString(parts, "linkSource", k.LinkSource)
	parts = append(parts, param("eidMatch", "valueBoolean", k.EIDMatch), param("hadToCreateNewResource", "valueBoolean", k.NewGolden))
	if k.Score != 0 || k.RuleVersion != "" {
		parts = append(parts, param("score", "valueDecimal", decimal(k.Score, 4)))
	}
	parts = append(parts, param("linkCreated", "valueDecimal", millis(k.Created)), param("linkUpdated", "valueDecimal", millis(k.Updated)))
	parts = appendString(parts, "grade", k.Grade)
	parts = appendString(parts, "ruleVersion", k.RuleVersion)
	return appendString(parts, "evidence", string(k.Evidence))
}

func millis(t time.Time) json.Number { return json.Number(strconv.FormatInt(t.UnixMilli(), 10)) }

func (s *Server) handleMDMLinkHistory(c *fiber.Ctx) error {
	_, ls, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-link-history", pGolden, pResource)
	if err != nil {
		return err
	}
	goldens, err := p.refs(pGolden, registry.TypePerson, registry.TypeLinkage)
	if err != nil {
		return err
	}
	sources, err := p.refs(pResource, registry.TypePatient, registry.TypePractitioner, registry.TypeLocation, registry.TypePerson)
	if err != nil {
		return err
	}
	if len(goldens)+len(sources) == 0 {
		return registry.Invalid(registry.EInvalid, "required", pGolden, "$mdm-link-history needs goldenResourceId or resourceId (or both)")
	}
	events, err := ls.LinkHistory(c.UserContext(), ids(goldens), ids(sources))
	if err != nil {
		return err
	}
	var params []any
	for _, e := range events {
		if goldens.has(e.Link.GoldenType, e.Link.GoldenID) || sources.has(e.Link.SourceType, e.Link.SourceID) {
			params = append(params, part("historical-link", eventParts(e)))
		}
	}
	return s.sendJSON(c, fiber.StatusOK, parameters(params))
}

// eventParts describes one change of a link: its state after ("REMOVED"
// when it went), and idem's decision (the op id to undo), actor and reason.
func eventParts(e *registry.LinkEvent) []any {
	k := e.Link
	parts := []any{param(pGolden, "valueString", k.Golden()), param("sourceResourceId", "valueString", k.Source()),
		param(pMatchResult, "valueString", cmp.Or(k.MatchResult, "REMOVED"))}
	parts = appendString(parts, "linkSource", k.LinkSource)
	if k.MatchResult != "" {
		parts = append(parts, param("eidMatch", "valueBoolean", k.EIDMatch), param("hadToCreateNewResource", "valueBoolean", k.NewGolden))
	}
	if k.Score != 0 || k.RuleVersion != "" {
		parts = append(parts, param("score", "valueDecimal", decimal(k.Score, 4)))
	}
	parts = append(parts, param("linkUpdated", "valueDecimal", millis(e.At)),
		param("revisionTimestamp", "valueInstant", registry.FormatInstant(e.At)),
		param("decision", "valueInteger", e.OpID))
	parts = appendString(parts, "actor", e.Actor)
	return appendString(parts, "reason", e.Reason)
}

func (s *Server) handleMDMUpdateLink(c *fiber.Ctx) error {
	return s.setLink(c, "$mdm-update-link", true)
}

func (s *Server) handleMDMCreateLink(c *fiber.Ctx) error {
	return s.setLink(c, "$mdm-create-link", false)
}

// setLink is $mdm-update-link (an existing link; MATCH or NO_MATCH) and
// $mdm-create-link (any pair; MATCH by default); both answer the golden
// record as it is after.
func (s *Server) setLink(c *fiber.Ctx, op string, update bool) error {
	l, _, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, op, pGolden, pResource, pMatchResult)
	if err != nil {
		return err
	}
	golden, err := p.required(pGolden)
	if err != nil {
		return err
	}
	source, err := p.required(pResource)
	if err != nil {
		return err
	}
	results := []string{registry.MatchResultMatch, registry.MatchResultNoMatch}
	if !update {
		results = append(results, registry.MatchResultPossible)
	}
	result, err := p.choice(pMatchResult, results...)
	if err != nil {
		return err
	}
	if result == "" && update {
		return p.missing(pMatchResult)
	}
	ctx := actorContext(c)
	k, err := l.SetLink(ctx, golden, source, cmp.Or(result, registry.MatchResultMatch), update)
	if err != nil {
		return err
	}
	// The link's golden record: the one asked for, or when two Locations
	// were linked (MATCH) their Linkage.
	return s.sendGolden(c, k.GoldenRef())
}

// sendGolden answers a golden record as it is now. A Linkage left with
// fewer than two records was deleted; that is reported, not an error.
func (s *Server) sendGolden(c *fiber.Ctx, ref registry.Ref) error {
	r, err := s.registry.Read(c.UserContext(), ref.Type, ref.ID)
	if registry.ErrorCode(err) == registry.EGone {
		return s.sendOutcome(c, fiber.StatusOK, fhir.Information(ref.String()+" was deleted: it no longer links two records"))
	}
	if err != nil {
		return err
	}
	return s.sendStored(c, fiber.StatusOK, r)
}

func (s *Server) handleMDMMerge(c *fiber.Ctx) error {
	l, _, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-merge-golden-resources", "fromGoldenResourceId", "toGoldenResourceId")
	if err != nil {
		return err
	}
	from, err := p.required("fromGoldenResourceId")
	if err != nil {
		return err
	}
	to, err := p.required("toGoldenResourceId")
	if err != nil {
		return err
	}
	if err := l.Merge(actorContext(c), from, to); err != nil {
		return err
	}
	ref, err := registry.ParseRef(strings.TrimSpace(to)) // as Merge read it
	if err != nil {
		return err
	}
	return s.sendGolden(c, ref)
}

func (s *Server) handleMDMNotDuplicate(c *fiber.Ctx) error {
	l, _, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-not-duplicate", pGolden, "targetGoldenResourceId")
	if err != nil {
		return err
	}
	golden, err := p.required(pGolden)
	if err != nil {
		return err
	}
	target, err := p.required("targetGoldenResourceId")
	if err != nil {
		return err
	}
	if target == golden {
		return p.invalid("targetGoldenResourceId", "targetGoldenResourceId %s is goldenResourceId: a record is not a duplicate of itself", target)
	}
	if err := l.NotDuplicate(actorContext(c), golden, target); err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, parameters([]any{param("success", "valueBoolean", true)}))
}

func (s *Server) handleMDMClear(c *fiber.Ctx) error {
	l, _, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-clear", pType)
	if err != nil {
		return err
	}
	types := p.list(pType)
	if len(types) == 0 {
		types = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}
	}
	n, err := l.Clear(actorContext(c), types)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, parameters([]any{param("cleared", "valueInteger", n)}))
}

func (s *Server) handleMDMUndo(c *fiber.Ctx) error {
	l, _, err := s.mdm()
	if err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-undo", "decision")
	if err != nil {
		return err
	}
	if _, err := p.required("decision"); err != nil {
		return err
	}
	id, err := p.integer("decision", 0, 1, math.MaxInt32)
	if err != nil {
		return err
	}
	op, err := l.Undo(actorContext(c), int64(id))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, parameters([]any{param("decision", "valueInteger", op.ID), param("undoes", "valueInteger", id)}))
}

func (s *Server) handleMDMReviewSummary(c *fiber.Ctx) error {
	_, ls, err := s.mdm()
	if err != nil {
		return err
	}
	if _, err := operationParams(c, "$mdm-review-summary"); err != nil {
		return err
	}
	counts, err := ls.ReviewCounts(c.UserContext(), s.now())
	if err != nil {
		return err
	}
	var params []any
	for _, n := range counts {
		params = append(params, part("count", []any{param(pType, "valueString", n.SourceType),
			param(pMatchResult, "valueString", n.MatchResult), param("age", "valueString", n.Age), param("items", "valueInteger", n.Items)}))
	}
	return s.sendJSON(c, fiber.StatusOK, parameters(params))
}

// mdmMethods are the methods of each MDM operation, for a clear 405.
var mdmMethods = map[string]string{
	"$mdm-query-links": "GET or POST", "$mdm-duplicate-golden-resources": "GET or POST", "$mdm-link-history": "GET or POST",
	"$mdm-update-link": "POST", "$mdm-create-link": "POST", "$mdm-merge-golden-resources": "POST", "$mdm-not-duplicate": "POST",
	"$mdm-submit": "POST", "$mdm-submit-status": "GET", "$mdm-clear": "POST", "$mdm-undo": "POST",
	"$mdm-review-summary": "GET",
}

// handleMDMNoRoute answers a known operation asked with the wrong method
// (405) and an unknown one (404).
func (s *Server) handleMDMNoRoute(c *fiber.Ctx) error {
	name, rest, _ := strings.Cut(c.Params("*"), "/")
	op := "$mdm-" + name
	m, ok := mdmMethods[op]
	switch {
	case !ok:
		return registry.Errorf(registry.ENotFound, "unknown operation %s", op)
	case op == "$mdm-submit-status" && c.Method() == fiber.MethodGet:
		return registry.Errorf(registry.ENotFound, "$mdm-submit-status needs a job id: GET $mdm-submit-status/{jobId}")
	case rest != "" && op != "$mdm-submit-status":
		return registry.Errorf(registry.ENotFound, "no FHIR interaction at %s %s", c.Method(), c.Path())
	}
	return registry.Errorf(registry.EMethod, "%s %s is not supported: %s takes %s", c.Method(), op, op, m)
}

func (s *Server) handleMDMSubmit(c *fiber.Ctx) error {
	if _, _, err := s.mdm(); err != nil {
		return err
	}
	p, err := operationParams(c, "$mdm-submit", pType, "criteria", "dryRun", "model")
	if err != nil {
		return err
	}
	if _, ok := p.vals["model"]; ok {
		return s.submitModelDryRun(c, p) // fhir_mdm_model.go
	}
	typ, err := p.required(pType)
	if err != nil {
		return err
	}
	if !linkage.Matchable(typ) {
		return p.invalid(pType, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	criteria, err := submitCriteria(p, typ)
	if err != nil {
		return err
	}
	dry, err := p.boolean("dryRun")
	if err != nil {
		return err
	}
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "$mdm-submit needs the job queue, which this server does not run")
	}
	job, err := linkage.NewRematchJob(actorContext(c), typ, criteria, dry)
	if err != nil {
		return err
	}
	if err := s.bulk.Enqueue(c.UserContext(), job); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentLocation, s.base(c)+"/$mdm-submit-status/"+job.ID)
	return s.sendJSON(c, fiber.StatusAccepted, parameters([]any{param("jobId", "valueString", job.ID)}))
}

// submitCriteria parses criteria, a search like "family=smith" or
// "Patient?family=smith", selecting the records to re-match.
func submitCriteria(p *opParams, typ string) (url.Values, error) {
	raw, err := p.one("criteria")
	if err != nil || raw == "" {
		return url.Values{}, err
	}
	query := raw
	if t, rest, ok := strings.Cut(raw, "?"); ok {
		if t != "" && t != typ {
			return nil, p.invalid("criteria", "criteria %q searches %s, not %s", raw, t, typ)
		}
		query = rest
	}
	v, err := url.ParseQuery(query)
	if err == nil {
		_, err = registry.ParseQuery(typ, v, true)
	}
	if err != nil {
		return nil, p.invalid("criteria", "criteria %q: %s", raw, registry.ErrorMessage(err))
	}
	return v, nil
}

func (s *Server) handleMDMSubmitStatus(c *fiber.Ctx) error {
	if _, _, err := s.mdm(); err != nil {
		return err
	}
	id := c.Params("id")
	var st linkage.JobStatus
	job, err := s.bulk.Job(c.UserContext(), id)
	if err == nil && job.Kind == linkage.JobModel {
		return s.modelJobStatus(c, job) // $mdm-submit with model (fhir_mdm_model.go)
	}
	if err == nil {
		st, err = linkage.RematchStatus(job)
	}
	if registry.ErrorCode(err) == registry.ENotFound {
		return registry.Errorf(registry.ENotFound, "no $mdm-submit job %q", id)
	}
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, parameters(jobParams(st)))
}

// jobParams describes a re-match job: its progress and, for a dry run, the
// changes it would make.
func jobParams(st linkage.JobStatus) []any {
	status := "done"
	switch {
	case st.Running:
		status = "running"
	case st.Err != nil:
		status = "failed"
	}
	params := []any{param("jobId", "valueString", st.ID), param(pType, "valueString", st.Type),
		param("dryRun", "valueBoolean", st.DryRun), param("status", "valueCode", status),
		param("total", "valueInteger", st.Total), param("processed", "valueInteger", st.Done),
		param("changed", "valueInteger", st.Changed), param("started", "valueInstant", registry.FormatInstant(st.Started))}
	if !st.Running {
		params = append(params, param("finished", "valueInstant", registry.FormatInstant(st.Finished)))
	}
	if st.Err != nil {
		params = append(params, param("error", "valueString", registry.ErrorMessage(st.Err)))
	}
	for _, ch := range st.Changes {
		parts := appendString(nil, "source", ch.Source)
		parts = appendString(parts, "from", ch.From)
		parts = appendString(parts, "to", ch.To)
		for _, r := range ch.Review {
			parts = append(parts, param("review", "valueString", r))
		}
		params = append(params, part("change", parts))
	}
	return params
}
