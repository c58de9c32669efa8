package ui

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
	"idem/registry/bulk"
)

// The bulk jobs pages (admins): the newest imports and exports, and one
// job with its progress (the page reloads itself while the job runs),
// its match report per source system and the report downloads.

type jobsPage struct {
	view
	Jobs []*registry.BulkJob
}

type jobPage struct {
	view
	Job     *registry.BulkJob
	Summary *bulk.Summary
	Percent int
	Elapsed time.Duration
	Phase   string // an active import's step (bulk.Phase)
}

func (s *Server) handleJobsPage(c *fiber.Ctx) error {
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "bulk jobs are not offered by this server")
	}
	jobs, err := s.bulk.Store().Jobs(c.UserContext(), "", 100)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "jobs", jobsPage{view: s.baseView(c, "Bulk jobs", "jobs"), Jobs: jobs})
}

func (s *Server) handleJobPage(c *fiber.Ctx) error {
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "bulk jobs are not offered by this server")
	}
	job, err := s.bulk.Job(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	if job.Kind == linkage.JobModel {
		return redirect(c, "/admin/models/jobs/"+job.ID) // models.go
	}
	p := jobPage{view: s.baseView(c, "Job "+job.ID[:8], "jobs"), Job: job}
	if job.Kind == registry.JobImport {
		if p.Summary, err = s.bulk.Summary(c.UserContext(), job); err != nil {
			return err
		}
		if job.Active() {
			p.Phase = bulk.Phase(job)
		}
	}
	if job.Total > 0 {
		p.Percent = min(100, 100*job.Done/job.Total)
	}
	end := job.Finished
	if end.IsZero() {
		end = time.Now()
	}
	p.Elapsed = end.Sub(job.Created).Round(time.Second)
	if job.Active() {
		p.Refresh = 2
	}
	return s.render(c, fiber.StatusOK, "job", p)
}

// handleJobFile downloads an import's report.csv, report.ndjson or errors.ndjson.
func (s *Server) handleJobFile(c *fiber.Ctx) error {
	job, err := s.bulk.Job(c.UserContext(), c.Params("id"))
	if err != nil || job.Kind != registry.JobImport {
		return registry.Errorf(registry.ENotFound, "no import job %q", c.Params("id"))
	}
	w := c.Response().BodyWriter()
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+job.ID+"."+c.Params("file")+`"`)
	switch c.Params("file") {
	case "report.csv":
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		return s.bulk.WriteReportCSV(c.UserContext(), job.ID, w)
	case "report.ndjson":
		c.Set(fiber.HeaderContentType, "application/ndjson")
		return s.bulk.WriteReport(c.UserContext(), job.ID, w)
	case "errors.ndjson":
		c.Set(fiber.HeaderContentType, "application/fhir+ndjson")
		return s.bulk.WriteErrors(c.UserContext(), job.ID, w)
	}
	return registry.Errorf(registry.ENotFound, "no such report")
}
