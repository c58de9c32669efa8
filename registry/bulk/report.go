package bulk

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"idem/registry"
)

// Summary is an import's match report in counts: for the whole job and
// per source system.
type Summary struct {
	Total      int           `json:"total"`     // lines with a resource
	Processed  int           `json:"processed"` // lines committed
	Created    int           `json:"created"`   // loaded: new records
	Updated    int           `json:"updated"`   // records of the source stored before
	Rejected   int           `json:"rejected"`
	AutoLinked int           `json:"autoLinked"` // linked to a golden record that existed
	NewGolden  int           `json:"newGolden"`
	Review     int           `json:"review"` // review items opened
	Sources    []SourceCount `json:"sources"`
	Capped     []string      `json:"cappedKeys"` // blocking keys too common to use
}

// Summary counts job's results so far. A finished job's are the summary
// kept with it when it finished: a client polling a finished import of a
// million lines is answered without counting them again each time.
func (j *Jobs) Summary(ctx context.Context, job *registry.BulkJob) (*Summary, error) {
	if !job.Active() && len(job.Summary) > 0 {
		var s Summary
		if err := json.Unmarshal(job.Summary, &s); err == nil {
			return &s, nil
		}
	}
	counts, capped, err := j.store.Summary(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	s := &Summary{Total: job.Total, Sources: []SourceCount{}, Capped: capped}
	for _, c := range counts {
		s.Sources = append(s.Sources, SourceCount(c))
		s.Processed += c.Records
		switch c.Outcome {
		case registry.ImportCreated:
			s.Created += c.Records
		case registry.ImportUpdated:
			s.Updated += c.Records
		case registry.ImportRejected:
			s.Rejected += c.Records
		}
		s.AutoLinked += c.AutoLinked
		s.NewGolden += c.NewGolden
		s.Review += c.Review
	}
	if s.Capped == nil {
		s.Capped = []string{}
	}
	return s, nil
}

// SourceCount is one source system's count of one outcome.
type SourceCount struct {
	System     string `json:"system"`
	Outcome    string `json:"outcome"`
	Records    int    `json:"records"`
	NewGolden  int    `json:"newGolden"`
	AutoLinked int    `json:"autoLinked"`
	Review     int    `json:"review"`
}

// reportRow is one line of the report as NDJSON.
type reportRow struct {
	Line      int             `json:"line"`
	Outcome   string          `json:"outcome"`
	Type      string          `json:"resourceType,omitempty"`
	ID        string          `json:"id,omitempty"`
	Source    string          `json:"source,omitempty"`
	System    string          `json:"system,omitempty"`
	Golden    string          `json:"golden,omitempty"`
	NewGolden bool            `json:"newGolden,omitempty"`
	Review    int             `json:"review,omitempty"`
	Capped    []string        `json:"cappedKeys,omitempty"`
	Problem   json.RawMessage `json:"operationOutcome,omitempty"`
}

// eachResult calls fn for every result of job, in line order.
func (j *Jobs) eachResult(ctx context.Context, job string, fn func(r *registry.ImportResult) error) error {
	after := 0
	for {
		page, err := j.store.Results(ctx, job, after, 1000)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		after = page[len(page)-1].Line
	}
}

// WriteReport writes job's report, one object per line (NDJSON).
func (j *Jobs) WriteReport(ctx context.Context, job string, w io.Writer) error {
	enc := json.NewEncoder(w)
	return j.eachResult(ctx, job, func(r *registry.ImportResult) error {
		return enc.Encode(reportRow{Line: r.Line, Outcome: r.Outcome, Type: r.Type, ID: r.ID, Source: r.Source, System: r.System,
			Golden: r.Golden, NewGolden: r.NewGolden, Review: r.Review, Capped: r.Capped, Problem: r.Problem})
	})
}

// WriteReportCSV writes job's report as CSV with a header row.
func (j *Jobs) WriteReportCSV(ctx context.Context, job string, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"line", "outcome", "resourceType", "id", "source", "system", "golden", "newGolden", "review", "cappedKeys", "problem"}); err != nil {
		return err
	}
	err := j.eachResult(ctx, job, func(r *registry.ImportResult) error {
		return cw.Write([]string{strconv.Itoa(r.Line), r.Outcome, r.Type, r.ID, r.Source, r.System, r.Golden,
			strconv.FormatBool(r.NewGolden), strconv.Itoa(r.Review), strings.Join(r.Capped, " "), problemText(r.Problem)})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// WriteErrors writes the OperationOutcome of every rejected line (NDJSON,
// as the Bulk Data IG's error files), each naming its line.
func (j *Jobs) WriteErrors(ctx context.Context, job string, w io.Writer) error {
	return j.eachResult(ctx, job, func(r *registry.ImportResult) error {
		if r.Outcome != registry.ImportRejected {
			return nil
		}
		if _, err := w.Write(r.Problem); err != nil {
			return err
		}
		_, err := w.Write([]byte("\n"))
		return err
	})
}
