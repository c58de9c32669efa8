package bulk

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"idem/registry"
)

// The Bulk Data Access IG v2 export: kick-off stores a job with its
// transactionTime (the snapshot), the worker counts what each file will
// hold, and the files are written when downloaded, by key from the
// snapshot (registry.BulkStore.Snapshot), so they are the same however
// often they are fetched and cost no disk while the job waits.

// Export levels.
const (
	LevelSystem  = "system"
	LevelPatient = "Patient"
)

// OutputFormats are the _outputFormat values accepted (all NDJSON).
var OutputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// CrosswalkType names the crosswalk file in a manifest's output.
const CrosswalkType = "Crosswalk"

// ExportRequest is a parsed kick-off request.
type ExportRequest struct {
	Level   string
	Types   []string // what was asked for (all allowed ones when empty)
	Since   time.Time
	Request string // the kick-off URL, echoed in the manifest
}

// exportParams are an export job's stored settings.
type exportParams struct {
	Level string    `json:"level"`
	Types []string  `json:"types"`
	Since time.Time `json:"since"`
	At    time.Time `json:"transactionTime"`
}

// FileCount is one file of an export manifest.
type FileCount struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type exportSummary struct {
	Output  []FileCount `json:"output"`
	Deleted []FileCount `json:"deleted"`
}

// LevelTypes returns the types an export of level may hold.
func LevelTypes(level string) []string {
	if level == LevelPatient {
		return []string{registry.TypePatient, registry.TypePerson}
	}
	return registry.Types
}

// ParseExport checks the kick-off parameters: _type (comma-separated,
// repeatable), _since (an instant), _outputFormat.
func ParseExport(level string, types []string, since, format string) (*ExportRequest, error) {
	req := &ExportRequest{Level: level}
	for _, t := range types {
		for _, typ := range strings.Split(t, ",") {
			typ = strings.TrimSpace(typ)
			if !slices.Contains(LevelTypes(level), typ) {
				return nil, registry.Invalid(registry.EInvalid, "not-supported", "_type", "_type %q is not exported here (types: %s)", typ, strings.Join(LevelTypes(level), ", "))
			}
			if !slices.Contains(req.Types, typ) {
				req.Types = append(req.Types, typ)
			}
		}
	}
	if since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return nil, registry.Invalid(registry.EInvalid, "invalid", "_since", "_since %q is not a FHIR instant (e.g. 2024-01-31T12:00:00Z)", since)
		}
		req.Since = t
	}
	if format != "" && !slices.Contains(OutputFormats, format) {
		return nil, registry.Invalid(registry.EInvalid, "not-supported", "_outputFormat", "_outputFormat %q is not supported (%s)", format, strings.Join(OutputFormats, ", "))
	}
	return req, nil
}

// Kickoff queues an export of types (already authorised) for actor.
func (j *Jobs) Kickoff(ctx context.Context, actor registry.Actor, req *ExportRequest, types []string) (*registry.BulkJob, error) {
	now := j.now().UTC()
	at := j.svc.Now()
	params, _ := json.Marshal(exportParams{Level: req.Level, Types: types, Since: req.Since, At: at})
	job := &registry.BulkJob{ID: newID(), Kind: registry.JobExport, Status: registry.JobQueued, Actor: actor,
		Request: req.Request, Params: params, Created: now, Updated: now}
	if err := j.store.CreateJob(ctx, job); err != nil {
		return nil, err
	}
	j.notify()
	return job, nil
}

// runExport counts the resources of each file.
func (j *Jobs) runExport(ctx context.Context, job *registry.BulkJob) error {
	var p exportParams
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return registry.Internal(err)
	}
	var sum exportSummary
	for _, typ := range p.Types {
		n, err := j.store.CountSnapshot(ctx, registry.SnapshotQuery{Type: typ, At: p.At, Since: p.Since})
		if err != nil {
			return err
		}
		sum.Output = append(sum.Output, FileCount{Type: typ, Name: typ + ".ndjson", Count: n})
		job.Total += n
		if !p.Since.IsZero() {
			d, err := j.store.CountSnapshot(ctx, registry.SnapshotQuery{Type: typ, At: p.At, Since: p.Since, Deleted: true})
			if err != nil {
				return err
			}
			sum.Deleted = append(sum.Deleted, FileCount{Type: "Bundle", Name: typ + ".deleted.ndjson", Count: d})
		}
	}
	n := 0
	for _, typ := range p.Types {
		if slices.Contains(Importable, typ) {
			c, err := j.store.CountCrosswalk(ctx, typ, p.At)
			if err != nil {
				return err
			}
			n += c
		}
	}
	sum.Output = append(sum.Output, FileCount{Type: CrosswalkType, Name: CrosswalkType + ".ndjson", Count: n})
	job.Summary, _ = json.Marshal(sum)
	return j.finish(ctx, job)
}

// Manifest is the completed export's manifest (Bulk Data IG v2), its
// file URLs under fileBase ("{fhir base}/$export-file/{job}").
func Manifest(job *registry.BulkJob, fileBase string) map[string]any {
	var p exportParams
	var sum exportSummary
	_ = json.Unmarshal(job.Params, &p)
	_ = json.Unmarshal(job.Summary, &sum)
	files := func(fs []FileCount) []any {
		out := []any{}
		for _, f := range fs {
			if f.Count > 0 {
				out = append(out, map[string]any{"type": f.Type, "url": fileBase + "/" + f.Name, "count": f.Count})
			}
		}
		return out
	}
	m := map[string]any{"transactionTime": registry.FormatInstant(p.At), "request": job.Request, "requiresAccessToken": true,
		"output": files(sum.Output), "error": []any{}}
	if !p.Since.IsZero() {
		m["deleted"] = files(sum.Deleted)
	}
	return m
}

// FileType returns the resource type a file of job holds ("" when the
// job has no such file), so the caller can check the reader may see it.
func FileType(job *registry.BulkJob, name string) string {
	var sum exportSummary
	_ = json.Unmarshal(job.Summary, &sum)
	for _, f := range append(sum.Output, sum.Deleted...) {
		if f.Name == name {
			if f.Type == "Bundle" {
				return strings.TrimSuffix(name, ".deleted.ndjson")
			}
			return f.Type
		}
	}
	return ""
}

// WriteFile writes one file of a completed export.
func (j *Jobs) WriteFile(ctx context.Context, job *registry.BulkJob, name string, w io.Writer) error {
	var p exportParams
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return registry.Internal(err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var err error
	switch typ, deleted := strings.CutSuffix(name, ".deleted.ndjson"); {
	case name == CrosswalkType+".ndjson":
		enc := json.NewEncoder(bw)
		err = j.eachCrosswalk(ctx, p, func(r registry.CrosswalkRow) error { return enc.Encode(newCrosswalkLine(r)) })
	case deleted:
		err = j.eachSnapshot(ctx, registry.SnapshotQuery{Type: typ, At: p.At, Since: p.Since, Deleted: true}, func(r *registry.Resource) error {
			return writeLine(bw, deletionBundle(r))
		})
	default:
		typ = strings.TrimSuffix(name, ".ndjson")
		err = j.eachSnapshot(ctx, registry.SnapshotQuery{Type: typ, At: p.At, Since: p.Since}, func(r *registry.Resource) error {
			return writeLine(bw, r.Body)
		})
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func writeLine(w *bufio.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

// exportPage is the number of resources read per query.
const exportPage = 2000

func (j *Jobs) eachSnapshot(ctx context.Context, q registry.SnapshotQuery, fn func(*registry.Resource) error) error {
	q.Count = exportPage
	for {
		page, err := j.store.Snapshot(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < q.Count {
			return nil
		}
		q.After = page[len(page)-1].ID
	}
}

// eachCrosswalk calls fn for the source records of the export's types.
func (j *Jobs) eachCrosswalk(ctx context.Context, p exportParams, fn func(registry.CrosswalkRow) error) error {
	for _, typ := range p.Types {
		if !slices.Contains(Importable, typ) {
			continue
		}
		after := ""
		for {
			page, err := j.store.Crosswalk(ctx, typ, p.At, after, exportPage)
			if err != nil {
				return err
			}
			for _, r := range page {
				if err := fn(r); err != nil {
					return err
				}
			}
			if len(page) < exportPage {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return nil
}

// crosswalkLine is one line of the crosswalk file: a source record (its
// system and its own id there), the registry record, its golden record.
type crosswalkLine struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	SourceSystem string `json:"sourceSystem"`
	SourceID     string `json:"sourceId"`
	Golden       string `json:"golden,omitempty"`
}

// newCrosswalkLine is r as a line of the crosswalk file.
func newCrosswalkLine(r registry.CrosswalkRow) *crosswalkLine {
	system, localID := r.Source, ""
	if i := strings.Index(r.Source, "/"+r.Type+"/"); i > 0 {
		system, localID = r.Source[:i], r.Source[i+len(r.Type)+2:]
	}
	return &crosswalkLine{ResourceType: r.Type, ID: r.ID, SourceSystem: system, SourceID: localID, Golden: r.Golden}
}

// deletionBundle is a deleted resource as the IG reports it: a
// transaction Bundle with one DELETE entry.
func deletionBundle(r *registry.Resource) []byte {
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"request": map[string]any{"method": "DELETE", "url": r.Type + "/" + r.ID}}}})
	return b
}
