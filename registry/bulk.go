package registry

import (
	"context"
	"time"
)

// Bulk jobs: $import and $export (HL7 Bulk Data Access IG v2) run as jobs
// kept in the database, so a restart resumes them and, on PostgreSQL, any
// instance answers their status.

// Job kinds and states.
const (
	JobImport = "import"
	JobExport = "export"

	JobReceiving = "receiving" // the import's body is being spooled; not yet acknowledged
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
)

// BulkJob is one import or export job.
type BulkJob struct {
	ID       string
	Kind     string // JobImport or JobExport
	Status   string
	Actor    Actor  // who asked for it: the job writes and reads as this actor
	Request  string // the kick-off request (export) or what was imported (file names, "POST $import")
	Params   []byte // kind-specific settings, JSON
	Total    int    // lines to import, resources to export
	Done     int    // import: the last line committed (the cursor a restart resumes from)
	Summary  []byte // the final report's counts, JSON (set when done)
	Error    string // why it failed
	Created  time.Time
	Updated  time.Time
	Finished time.Time
}

// Active reports whether the job is still to be worked on.
func (j *BulkJob) Active() bool { return j.Status == JobQueued || j.Status == JobRunning }

// ImportLine is one spooled input line: its 1-based number in the input,
// the resource's JSON, and, when it did not validate, the
// OperationOutcome (JSON) saying why.
type ImportLine struct {
	Line    int
	Body    []byte
	Problem []byte
}

// Import outcomes of one line.
const (
	ImportCreated  = "created"
	ImportUpdated  = "updated"
	ImportRejected = "rejected"
)

// ImportResult is what became of one import line: the match report's row.
type ImportResult struct {
	Line      int
	Type, ID  string   // the registry record written ("" when rejected)
	Source    string   // its meta.source (the source system's record URL)
	System    string   // the source system it is reported under
	Outcome   string   // ImportCreated, ImportUpdated or ImportRejected
	Golden    string   // "Person/id" or "Linkage/id" it is linked to
	NewGolden bool     // a new golden record was made for it
	Review    int      // review items (POSSIBLE_MATCH links) it opened
	Capped    []string // blocking keys too common to use
	Problem   []byte   // rejected: the OperationOutcome, JSON
}

// ImportCount is one row of a job's summary: counts per source system and outcome.
type ImportCount struct {
	System     string
	Outcome    string
	Records    int
	NewGolden  int
	AutoLinked int // linked to a golden record that existed before
	Review     int
}

// SnapshotQuery selects resources of one type as they were at At (the
// export's transactionTime), in id order, after the id After.
type SnapshotQuery struct {
	Type    string
	At      time.Time
	Since   time.Time // zero: all; otherwise only versions written after it
	After   string
	Count   int
	Deleted bool // only resources deleted (at At) since Since, instead of live ones
}

// CrosswalkRow is one source record of the identity translation: its
// source system and local id, its registry id, and its golden record.
type CrosswalkRow struct {
	Type, ID string // the registry record
	Source   string // its meta.source
	Golden   string // "Person/id" or "Linkage/id"; "" when unlinked
}

// BulkStore keeps bulk jobs, their spooled input and reports, and reads
// the snapshots exports are made of.
type BulkStore interface {
	// CreateJob stores a new job (j.ID set by the caller).
	CreateJob(ctx context.Context, j *BulkJob) error
	// Job returns one job, or ENotFound.
	Job(ctx context.Context, id string) (*BulkJob, error)
	// Jobs returns the newest jobs of kind ("" for all), at most limit.
	Jobs(ctx context.Context, kind string, limit int) ([]*BulkJob, error)
	// UpdateJob stores the job's status, totals, summary, error and times.
	UpdateJob(ctx context.Context, j *BulkJob) error
	// DeleteJob removes a job with its lines and results.
	DeleteJob(ctx context.Context, id string) error
	// AppendLines spools input lines of an import job.
	AppendLines(ctx context.Context, job string, lines []ImportLine) error
	// Lines returns up to n spooled lines after line number after, in order.
	Lines(ctx context.Context, job string, after, n int) ([]ImportLine, error)
	// Lease makes owner the job's only worker for d from now, when nobody
	// holds it or the holder's lease has ended (or owner holds it). Now is
	// the clock instances sharing the database read alike (the database
	// server's on PostgreSQL); local, the caller's clock, stands in for it
	// where the database is one machine's (SQLite).
	Lease(ctx context.Context, job, owner string, local time.Time, d time.Duration) (bool, error)
	// Unlease gives up owner's lease of job, if owner holds it, so that
	// another worker may take the job at once.
	Unlease(ctx context.Context, job, owner string) error
	// Runnable returns the active jobs whose lease is free now (as Lease
	// reads the time), oldest first.
	Runnable(ctx context.Context, kind string, local time.Time) ([]string, error)
	// SaveResults records the results of an import batch and moves the
	// job's cursor to upTo, inside the batch's own transaction; a cursor
	// already past the batch's first line (another worker wrote it) is an
	// internal error that rolls the batch back.
	SaveResults(ctx context.Context, tx Tx, job string, upTo int, results []*ImportResult) error
	// LinkResults sets the golden record, new-golden mark and review count
	// of a job's results from the links their records hold now: those of
	// an import whose records were stored unlinked and linked after.
	LinkResults(ctx context.Context, job string) error
	// Results returns up to n results after line number after, in order.
	Results(ctx context.Context, job string, after, n int) ([]*ImportResult, error)
	// Summary counts a job's results per source system and outcome, and
	// lists the distinct capped blocking keys.
	Summary(ctx context.Context, job string) ([]ImportCount, []string, error)

	// Snapshot returns resources as q selects them (deleted: markers).
	Snapshot(ctx context.Context, q SnapshotQuery) ([]*Resource, error)
	// CountSnapshot counts what Snapshot would return over all pages.
	CountSnapshot(ctx context.Context, q SnapshotQuery) (int, error)
	// Crosswalk returns up to n source records of typ after id after,
	// current at at, with their golden records.
	Crosswalk(ctx context.Context, typ string, at time.Time, after string, n int) ([]CrosswalkRow, error)
	// CountCrosswalk counts what Crosswalk would return over all pages.
	CountCrosswalk(ctx context.Context, typ string, at time.Time) (int, error)
}
