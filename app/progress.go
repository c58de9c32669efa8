package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"idem/registry/sqlstore"
)

// progressEvery is how often a long command logs its progress when its
// output is not a terminal.
const progressEvery = 5 * time.Second

// progress reports how far a long command is: a bar when stderr is a
// terminal, otherwise a log line at the start, every few seconds and at
// the end. A nil *progress reports nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	log   *slog.Logger
	what  string
	total int
	done  int
	start time.Time
	last  time.Time
}

// newProgress starts reporting on what, total units long.
func newProgress(stderr io.Writer, log *slog.Logger, what string, total int) *progress {
	p := &progress{log: log, what: what, total: total, start: time.Now(), last: time.Now()}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(), progressbar.OptionClearOnFinish())
		return p
	}
	log.Info(what, "total", total)
	return p
}

// Set reports done units.
func (p *progress) Set(done int) {
	if p == nil {
		return
	}
	p.done = done
	if p.bar != nil {
		p.bar.Set(done)
		return
	}
	if time.Since(p.last) >= progressEvery {
		p.last = time.Now()
		p.log.Info(p.what, "done", done, "total", p.total)
	}
}

// Add reports n more units done.
func (p *progress) Add(n int) {
	if p != nil {
		p.Set(p.done + n)
	}
}

// Step names the unit now in progress (shown in the bar, logged otherwise).
func (p *progress) Step(name string) {
	if p == nil {
		return
	}
	if p.bar != nil {
		p.bar.Describe(p.what + ": " + name)
		return
	}
	p.log.Info(p.what, "step", name, "done", p.done, "total", p.total)
}

// Finish ends the report (the bar is cleared: the command's result follows).
func (p *progress) Finish() {
	if p == nil {
		return
	}
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	p.log.Info(p.what+": done", "done", p.done, "total", p.total, "seconds", time.Since(p.start).Round(100*time.Millisecond).Seconds())
}

// requireDB refuses a SQLite database file that does not exist, so that a
// mistyped --db does not quietly create a new database (where, say, a new
// client's token would not be the server's). PostgreSQL DSNs pass: a
// database that does not exist fails to connect anyway.
func requireDB(dsn string) error {
	if sqlstore.IsPostgres(dsn) || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return nil
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("database %s does not exist (check --db or IDEM_DB; `idem serve` creates a new one)", path)
		}
		return fmt.Errorf("database %s: %w", path, err)
	}
	return nil
}
