package web

import (
	"bufio"
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/bulk"
	"idem/registry/fhir"
)

// Bulk Data Access IG v2 $export: kick-off (Prefer: respond-async), status
// (202 with X-Progress, then the manifest), file download with the same
// token, and DELETE of the job.

// handleExport is GET /fhir/$export and GET /fhir/Patient/$export.
func (s *Server) handleExport(level string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.bulk == nil {
			return registry.Errorf(registry.ENotFound, "$export is not offered by this server")
		}
		if !preferAsync(c) {
			return registry.Invalid(registry.EInvalid, "required", "Prefer", "$export runs asynchronously: send the header Prefer: respond-async")
		}
		q, err := queryValues(c)
		if err != nil {
			return err
		}
		req, err := bulk.ParseExport(level, q["_type"], first(q["_since"]), first(q["_outputFormat"]))
		if err != nil {
			return err
		}
		req.Request = s.base(c) + string(c.Request().URI().RequestURI())[len("/fhir"):]
		types, err := s.exportTypes(c.UserContext(), level, req.Types)
		if err != nil {
			return err
		}
		p, _ := registry.ActorIn(c.UserContext())
		job, err := s.bulk.Kickoff(c.UserContext(), p, req, types)
		if err != nil {
			return err
		}
		s.auditRead(c, readAudit{action: "E", subtype: "$export", query: req.Request, total: -1})
		c.Set(fiber.HeaderContentLocation, s.base(c)+"/$export-status/"+job.ID)
		return s.sendOutcome(c, fiber.StatusAccepted, fhir.Information("export accepted as job "+job.ID))
	}
}

// exportTypes returns the types to export: those asked for, each of which
// the requester must be allowed to search (403 otherwise), or by default
// every type of the level it may search. AuditEvent is never exported but
// to admins who ask for it.
func (s *Server) exportTypes(ctx context.Context, level string, asked []string) ([]string, error) {
	p, ok := registry.ActorIn(ctx)
	may := func(typ string) error {
		if !ok || s.auth == nil {
			return nil
		}
		return s.allow(ctx, p, "search", typ, nil)
	}
	if len(asked) > 0 {
		for _, typ := range asked {
			if err := may(typ); err != nil {
				return nil, err
			}
		}
		return asked, nil
	}
	var types []string
	for _, typ := range bulk.LevelTypes(level) {
		if typ != registry.TypeAuditEvent && may(typ) == nil {
			types = append(types, typ)
		}
	}
	if len(types) == 0 {
		return nil, registry.Errorf(registry.EForbidden, "%s %s may not search any type this export holds", p.Kind, p.Name)
	}
	return types, nil
}

// preferAsync reports whether the Prefer header asks for respond-async.
func preferAsync(c *fiber.Ctx) bool {
	for _, v := range c.Request().Header.PeekAll("Prefer") {
		for _, part := range strings.FieldsFunc(string(v), func(r rune) bool { return r == ',' || r == ';' }) {
			if strings.EqualFold(strings.TrimSpace(part), "respond-async") {
				return true
			}
		}
	}
	return false
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// handleExportStatus is GET $export-status/{id}.
func (s *Server) handleExportStatus(c *fiber.Ctx) error {
	job, err := s.bulkJob(c, registry.JobExport)
	if err != nil {
		return err
	}
	switch job.Status {
	case registry.JobFailed:
		return registry.Errorf(registry.EUnprocessable, "export job %s failed: %s", job.ID, job.Error)
	case registry.JobDone:
		c.Set(fiber.HeaderExpires, job.Finished.Add(24*3600e9).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
		return c.Status(fiber.StatusOK).JSON(bulk.Manifest(job, s.base(c)+"/$export-file/"+job.ID))
	}
	c.Set("X-Progress", job.Status)
	c.Set(fiber.HeaderRetryAfter, "1")
	return s.sendOutcome(c, fiber.StatusAccepted, fhir.Information("export "+job.Status))
}

// handleExportFile is GET $export-file/{id}/{file}: one NDJSON file,
// streamed from the snapshot as it is read.
func (s *Server) handleExportFile(c *fiber.Ctx) error {
	job, err := s.bulkJob(c, registry.JobExport)
	if err != nil {
		return err
	}
	name := c.Params("file")
	typ := bulk.FileType(job, name)
	if job.Status != registry.JobDone || typ == "" {
		return registry.Errorf(registry.ENotFound, "export job %s has no file %q", job.ID, name)
	}
	if typ != bulk.CrosswalkType {
		if p, ok := registry.ActorIn(c.UserContext()); ok && s.auth != nil {
			if err := s.allow(c.UserContext(), p, "search", typ, nil); err != nil {
				return err
			}
		}
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "application/fhir+ndjson")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		if err := s.bulk.WriteFile(ctx, job, name, w); err != nil {
			s.log.Warn("export download interrupted", "job", job.ID, "file", name, "err", err)
		}
	})
	return nil
}

// bulkRoutes registers $export and the status, report and file routes of
// bulk jobs ($import itself is registered outside the /fhir group).
func (s *Server) bulkRoutes(f fiber.Router) {
	f.Get("/$export", s.handleExport(bulk.LevelSystem))
	f.Get("/Patient/$export", s.handleExport(bulk.LevelPatient))
	f.Get("/$export-status/:id", s.handleExportStatus)
	f.Delete("/$export-status/:id", s.handleBulkDelete(registry.JobExport))
	f.Get("/$export-file/:id/:file", s.handleExportFile)
	f.Get("/$import-status/:id", s.handleImportStatus)
	f.Get("/$import-status/:id/:file", s.handleImportReport)
	f.Delete("/$import-status/:id", s.handleBulkDelete(registry.JobImport))
}
