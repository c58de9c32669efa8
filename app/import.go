package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"idem/policy"
	"idem/registry"
	"idem/registry/bulk"
)

// importCommand is "idem import FILE…|-": local NDJSON, Bundle JSON or
// CSV files, each one import job written through the write pipeline (as
// the named client, or as idem itself), with a progress bar on a
// terminal, log lines otherwise, and the match report.
func importCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var client, format, mapping, reportDir string
	var strict bool
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlags(fs, &cfg)
	fs.StringVar(&client, "client", "", "write as this registered client (its system, roles and domains); default: idem itself")
	fs.StringVar(&format, "format", "", "ndjson, bundle or csv (default: by file name; - is NDJSON)")
	fs.StringVar(&mapping, "map", "", "CSV columns of Patient fields: given=first_name,family=surname,birthDate=date_of_birth,identifier=mrn,identifierSystem=URI,…")
	fs.BoolVar(&strict, "strict", false, "refuse a file with a malformed line instead of reporting and skipping it")
	fs.StringVar(&reportDir, "report", "", "write each job's report (JOB.report.csv, JOB.report.ndjson) into this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: idem import FILE...|- [--client NAME] [--format ndjson|bundle|csv] [--map FIELD=column,...] [--strict]")
	}
	fields, err := bulk.ParseMap(mapping)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		actor, err := importActor(ctx, o.authz, client)
		if err != nil {
			return err
		}
		log, _ := cfg.logger(stderr)
		for _, name := range fs.Args() {
			if err := importFile(ctx, o, actor, name, format, fields, strict, reportDir, stdout, stderr, log); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
}

// importActor returns the actor an import writes as: an active client by
// name, or idem itself.
func importActor(ctx context.Context, authz *policy.Authorizer, name string) (registry.Actor, error) {
	if name == "" {
		return registry.SystemActor("idem import"), nil
	}
	c, err := authz.Client(ctx, name)
	if err != nil {
		return registry.Actor{}, fmt.Errorf("--client %s: %w", name, err)
	}
	if !c.Active(time.Now()) {
		return registry.Actor{}, fmt.Errorf("--client %s is revoked or expired", name)
	}
	return registry.Actor{Kind: "client", Name: c.Name, System: c.System, Roles: c.Roles, Domains: c.Domains}, nil
}

// importFile imports one file (or standard input) as one job.
func importFile(ctx context.Context, o *opened, actor registry.Actor, name, format string, fields map[string]string, strict bool,
	reportDir string, stdout, stderr io.Writer, log *slog.Logger) error {
	in := io.Reader(os.Stdin)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if format == "" {
		format = bulk.FormatOf(name)
	}
	lines, err := bulk.ToNDJSON(in, format, fields)
	if err != nil {
		return err
	}
	job, err := o.bulk.Submit(ctx, actor, lines, bulk.ImportOptions{Strict: strict, Request: "idem import " + name, Local: true})
	if err != nil {
		return describe(err)
	}
	start := time.Now()
	err = o.bulk.Work(ctx, job.ID, importProgress(job, name, stderr, log))
	if err != nil {
		return describe(err)
	}
	if job, err = o.bulk.Job(ctx, job.ID); err != nil {
		return err
	}
	if job.Status == registry.JobFailed {
		return fmt.Errorf("import failed: %s", job.Error)
	}
	sum, err := o.bulk.Summary(ctx, job)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "%s: job %s: %d lines in %.1fs (%.0f records/s): %d created, %d updated, %d rejected; %d auto-linked, %d new golden records, %d review items\n",
		name, job.ID, sum.Processed, secs, float64(sum.Processed)/secs, sum.Created, sum.Updated, sum.Rejected, sum.AutoLinked, sum.NewGolden, sum.Review)
	for _, c := range sum.Sources {
		fmt.Fprintf(stdout, "  %s %s: %d (auto-linked %d, new golden %d, review %d)\n", c.System, c.Outcome, c.Records, c.AutoLinked, c.NewGolden, c.Review)
	}
	if len(sum.Capped) > 0 {
		fmt.Fprintf(stdout, "  overflowing blocking keys: %s\n", strings.Join(sum.Capped, " "))
	}
	if sum.Rejected > 0 {
		fmt.Fprintln(stdout, "  rejected lines:")
		_ = o.bulk.WriteErrors(ctx, job.ID, stdout)
	}
	return writeReports(ctx, o, job.ID, reportDir)
}

// importProgress shows a progress bar (total, rate, ETA) on a terminal and
// a log line every five seconds otherwise.
func importProgress(job *registry.BulkJob, name string, stderr io.Writer, log *slog.Logger) func(*registry.BulkJob) {
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		bar := progressbar.NewOptions(job.Total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
		return func(j *registry.BulkJob) { _ = bar.Set(j.Done) }
	}
	start, last := time.Now(), time.Now()
	return func(j *registry.BulkJob) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			rate := float64(j.Done) / time.Since(start).Seconds()
			log.Info("importing", "file", name, "line", j.Done, "of", job.Total, "records/s", int(rate),
				"eta", (time.Duration(float64(job.Total-j.Done)/max(rate, 1)) * time.Second).Round(time.Second))
		}
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeReports writes the job's report files into dir, when given.
func writeReports(ctx context.Context, o *opened, job, dir string) error {
	if dir == "" {
		return nil
	}
	for _, kind := range []string{"csv", "ndjson"} {
		f, err := os.Create(fmt.Sprintf("%s/%s.report.%s", dir, job, kind))
		if err != nil {
			return err
		}
		if kind == "csv" {
			err = o.bulk.WriteReportCSV(ctx, job, f)
		} else {
			err = o.bulk.WriteReport(ctx, job, f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// describe turns a registry error into its OperationOutcome's text.
func describe(err error) error {
	if registry.ErrorCode(err) == registry.EInternal {
		return err
	}
	b, _ := json.Marshal(registry.ErrorOutcome(err))
	return fmt.Errorf("%s", b)
}
