package web

import (
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/bulk"
	"idem/registry/fhir"
)

// The asynchronous $import: the NDJSON body is streamed through the body
// limit into the database (the job's spool) and acknowledged with 202 and
// the status URL; the worker writes it through the one write pipeline as
// the authenticated client. Status, reports and cancellation live under
// $import-status/{id}.

// handleImport is POST /fhir/$import. It runs without the /fhir group's
// body middleware: the body is read here, line by line, never whole.
func (s *Server) handleImport(c *fiber.Ctx) error {
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "$import is not offered by this server")
	}
	ctx := c.UserContext()
	p, _ := registry.ActorIn(ctx)
	if err := s.allowImport(p); err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	switch {
	case mt == "application/fhir+ndjson" || mt == "application/ndjson" || mt == "application/x-ndjson":
	case jsonFormat(mt):
		return registry.Invalid(registry.EInvalid, "not-supported", "Parameters.parameter.input",
			"a Parameters manifest of input URLs is not supported yet (it needs the outbound allow-list, IDEM_OUTBOUND_ALLOW): send the resources as an application/fhir+ndjson body")
	default:
		return registry.Errorf(registry.EUnsupported, "Content-Type %q is not supported by $import: send application/fhir+ndjson, one resource per line", mt)
	}
	body, err := s.bodyStream(c)
	if err != nil {
		return err
	}
	job, err := s.bulk.Submit(ctx, p, body, bulk.ImportOptions{Strict: c.Query("strict") == "true", Request: "POST " + s.base(c) + "/$import"})
	if err != nil {
		return err // what is left of the body is drained after the answer (limitBody)
	}
	c.Locals(localBodyRead, true)
	c.Set(fiber.HeaderContentLocation, s.base(c)+"/$import-status/"+job.ID)
	return s.sendOutcome(c, fiber.StatusAccepted, fhir.Information(
		"import accepted: "+strconv.Itoa(job.Total)+" resources queued as job "+job.ID))
}

// allowImport refuses an import before its body is read when p may not
// create any of the importable types.
func (s *Server) allowImport(p registry.Actor) error {
	if s.auth == nil {
		return nil
	}
	var first error
	for _, typ := range bulk.Importable {
		err := allowed(s.auth, p, "create", typ, nil)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// bodyStream returns the request body, decoded, through the body limit
// (413 past it).
func (s *Server) bodyStream(c *fiber.Ctx) (io.Reader, error) {
	stream := c.Request().BodyStream()
	if stream == nil {
		stream = strings.NewReader(string(c.Body()))
	}
	raw := &limitReader{r: stream, n: int64(s.cfg.MaxBody)}
	r, err := decoder(c.Get(fiber.HeaderContentEncoding), raw)
	if err != nil {
		return nil, err
	}
	return &limitReader{r: r, n: int64(s.cfg.MaxBody)}, nil
}

// limitReader reads at most n bytes; one more is ETooLarge.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, registry.Errorf(registry.ETooLarge, "the import body exceeds the limit of the server (IDEM_MAX_BODY)")
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, registry.Errorf(registry.ETooLarge, "the import body exceeds the limit of the server (IDEM_MAX_BODY)")
	}
	return n, err
}

// bulkJob returns the bulk job of the request, if the requester may
// see it (its submitter, or an admin); others get 404.
func (s *Server) bulkJob(c *fiber.Ctx, kind string) (*registry.BulkJob, error) {
	if s.bulk == nil {
		return nil, registry.Errorf(registry.ENotFound, "bulk data is not offered by this server")
	}
	id := c.Params("id")
	job, err := s.bulk.Job(c.UserContext(), id)
	if err == nil && job.Kind != kind {
		err = registry.Errorf(registry.ENotFound, "no %s job %q", kind, id)
	}
	if err != nil {
		return nil, err
	}
	p, ok := registry.ActorIn(c.UserContext())
	if s.auth != nil && (!ok || (p.Name != job.Actor.Name || p.Kind != job.Actor.Kind) && !p.HasRole("admin")) {
		return nil, registry.Errorf(registry.ENotFound, "no %s job %q", kind, id)
	}
	return job, nil
}

// handleImportStatus is GET $import-status/{id}: 202 with X-Progress
// while it runs, the report's counts and links when done.
func (s *Server) handleImportStatus(c *fiber.Ctx) error {
	job, err := s.bulkJob(c, registry.JobImport)
	if err != nil {
		return err
	}
	if job.Active() {
		c.Set("X-Progress", strconv.Itoa(job.Done)+" of "+strconv.Itoa(job.Total)+" lines ("+bulk.Phase(job)+")")
		c.Set(fiber.HeaderRetryAfter, "2")
		return s.sendOutcome(c, fiber.StatusAccepted, fhir.Information("import "+job.Status))
	}
	if job.Status == registry.JobFailed {
		return registry.Errorf(registry.EUnprocessable, "import job %s failed: %s", job.ID, job.Error)
	}
	sum, err := s.bulk.Summary(c.UserContext(), job)
	if err != nil {
		return err
	}
	link := s.base(c) + "/$import-status/" + job.ID
	return c.Status(fiber.StatusOK).JSON(fiber.Map{
		"transactionTime": registry.FormatInstant(job.Finished), "request": job.Request, "requiresAccessToken": true,
		"summary": sum,
		"output": []fiber.Map{{"type": "ImportReport", "url": link + "/report.ndjson", "count": sum.Processed},
			{"type": "ImportReport", "url": link + "/report.csv", "count": sum.Processed}},
		"error": []fiber.Map{{"type": "OperationOutcome", "url": link + "/errors.ndjson", "count": sum.Rejected}},
	})
}

// handleImportReport is GET $import-status/{id}/{file}: report.ndjson,
// report.csv or errors.ndjson.
func (s *Server) handleImportReport(c *fiber.Ctx) error {
	job, err := s.bulkJob(c, registry.JobImport)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	switch c.Params("file") {
	case "report.ndjson":
		c.Set(fiber.HeaderContentType, "application/ndjson")
		return s.bulk.WriteReport(ctx, job.ID, c.Response().BodyWriter())
	case "report.csv":
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		return s.bulk.WriteReportCSV(ctx, job.ID, c.Response().BodyWriter())
	case "errors.ndjson":
		c.Set(fiber.HeaderContentType, "application/fhir+ndjson")
		return s.bulk.WriteErrors(ctx, job.ID, c.Response().BodyWriter())
	}
	return registry.Errorf(registry.ENotFound, "an import has report.ndjson, report.csv and errors.ndjson")
}

// handleBulkDelete is DELETE $import-status/{id} and $export-status/{id}.
func (s *Server) handleBulkDelete(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		job, err := s.bulkJob(c, kind)
		if err != nil {
			return err
		}
		if err := s.bulk.Delete(c.UserContext(), job.ID); err != nil {
			return err
		}
		return s.sendOutcome(c, fiber.StatusAccepted, fhir.Information(kind+" job "+job.ID+" deleted"))
	}
}
