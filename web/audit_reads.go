package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Reads and queries are audited as IHE BALP asks (ATNA read and query
// events): who read which records, and for a search or an operation the
// query itself. The events go through Config.ReadAudit, a queue written in
// batches off the request path, so a read never waits for its audit.

// maxAuditedRecords bounds the records named in one read or query event;
// the number returned is always in the detail "returned".
const maxAuditedRecords = 50

// maxAuditedQuery bounds the query kept in an event (a $match body).
const maxAuditedQuery = 8 << 10

// readAudit describes one successful read or query.
type readAudit struct {
	action  string            // R for reads, E for queries and operations (BALP)
	subtype string            // read, vread, search-type, or the "$operation"
	query   string            // the query as asked, "" for a read
	records []string          // the records returned, "Patient/1/_history/2"
	total   int               // matches in all (a search's total), -1: len(records)
	extra   map[string]string // more detail (a federated search's origins)
}

// auditRead queues the event of a; nothing when read audit is off. The
// AuditEvents of audit searches are recorded too: they are written through
// the system path, which audits nothing, so recording never recurses.
func (s *Server) auditRead(c *fiber.Ctx, a readAudit) {
	if s.cfg.ReadAudit == nil {
		return
	}
	n := len(a.records)
	detail := map[string]string{"returned": strconv.Itoa(n)}
	if a.total >= 0 && a.total != n {
		detail["total"] = strconv.Itoa(a.total)
	}
	if n > maxAuditedRecords {
		a.records = a.records[:maxAuditedRecords]
		detail["listed"] = strconv.Itoa(maxAuditedRecords)
	}
	if len(a.query) > maxAuditedQuery {
		a.query = a.query[:maxAuditedQuery]
		detail["query-truncated"] = "true"
	}
	if id := requestID(c); id != "" {
		detail["request"] = id
	}
	for k, v := range a.extra {
		detail[k] = v
	}
	if who := onBehalfOf(c); who != "" {
		detail["on-behalf-of"] = who
	}
	s.cfg.ReadAudit.Add(c.UserContext(), registry.AuditRecord{Action: a.action, Subtype: a.subtype,
		Entities: append([]string(nil), a.records...), Query: a.query, Detail: detail})
}

// versionRef is the versioned reference of r, as audit entities name it.
func versionRef(r *registry.Resource) string {
	return r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
}

// versionRefs lists the versioned references of rs.
func versionRefs(rs []*registry.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = versionRef(r)
	}
	return out
}

// auditBundleReads audits the GET entries of a batch or transaction Bundle
// (in, the request; out, its response) as the same reads and searches sent
// alone would be: a read names the record returned, a search its query and
// the records of its searchset. Entries that failed are not reads.
func (s *Server) auditBundleReads(c *fiber.Ctx, in, out map[string]any) {
	reqs, _ := in["entry"].([]any)
	resps, _ := out["entry"].([]any)
	for i, raw := range reqs {
		if i >= len(resps) {
			return
		}
		e, _ := raw.(map[string]any)
		req, _ := e["request"].(map[string]any)
		if req == nil || registry.AsString(req["method"]) != "GET" {
			continue
		}
		resp, _ := resps[i].(map[string]any)
		status, _ := resp["response"].(map[string]any)
		if !strings.HasPrefix(registry.AsString(status["status"]), "200") {
			continue
		}
		res, _ := resp["resource"].(map[string]any)
		if res == nil {
			continue
		}
		url := registry.AsString(req["url"])
		if registry.AsString(res["resourceType"]) == "Bundle" && registry.AsString(res["type"]) == "searchset" {
			var records []string
			total := -1
			if n, ok := res["total"].(float64); ok {
				total = int(n)
			}
			entries, _ := res["entry"].([]any)
			for _, se := range entries {
				sm, _ := se.(map[string]any)
				if r, _ := sm["resource"].(map[string]any); r != nil && registry.AsString(r["resourceType"]) != "OperationOutcome" {
					records = append(records, mapVersionRef(r))
				}
			}
			s.auditRead(c, readAudit{action: "E", subtype: "search-type", query: url, records: records, total: total})
			continue
		}
		s.auditRead(c, readAudit{action: "R", subtype: "read", records: []string{mapVersionRef(res)}, total: -1})
	}
}

// mapVersionRef is versionRef of a resource as JSON.
func mapVersionRef(r map[string]any) string {
	ref := registry.AsString(r["resourceType"]) + "/" + registry.AsString(r["id"])
	if meta, _ := r["meta"].(map[string]any); meta != nil {
		if v := registry.AsString(meta["versionId"]); v != "" {
			ref += "/_history/" + v
		}
	}
	return ref
}
