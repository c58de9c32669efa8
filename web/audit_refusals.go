package web

import (
	"context"
	"strconv"
	"sync"
	"time"

	"idem/registry"
)

// Refusals (403 denials, failed and throttled sign-ins) are audited, but a
// flood of them must not become a flood of AuditEvents: per principal (or
// claimed name), client address and reason, the first refusal of a window
// is recorded at once and the rest of the window as one AuditEvent with a
// count when it closes. The number of open windows is bounded: past it,
// refusals are counted per reason alone.

// refusalWindow is how long repeats of one refusal are gathered.
const refusalWindow = time.Minute

// maxRefusalKeys bounds the open windows (memory under a spray of names).
const maxRefusalKeys = 10000

type refusals struct {
	mu      sync.Mutex
	open    map[string]*refusalCount
	running bool
	write   func(registry.AuditRecord) // records one AuditEvent
}

type refusalCount struct {
	rec     registry.AuditRecord
	started time.Time
	more    int // refusals after the first
}

// refusalKey names what repeats of one refusal have in common.
func refusalKey(rec registry.AuditRecord, addr string) string {
	return rec.Agent.Kind + "\x00" + rec.Agent.Name + "\x00" + addr + "\x00" + rec.Subtype + "\x00" + rec.OutcomeDesc
}

// add records rec now if it opens a window, else counts it.
func (r *refusals) add(rec registry.AuditRecord, addr string) {
	key := refusalKey(rec, addr)
	r.mu.Lock()
	if len(r.open) >= maxRefusalKeys {
		key = "\x00many\x00" + rec.Subtype
	}
	if w, ok := r.open[key]; ok {
		w.more++
		r.mu.Unlock()
		return
	}
	r.open[key] = &refusalCount{rec: rec, started: time.Now()}
	if !r.running {
		r.running = true
		go r.flush()
	}
	r.mu.Unlock()
	r.write(rec)
}

// flush closes the windows as they end, recording one AuditEvent with the
// count of each that saw repeats; it stops when none is open.
func (r *refusals) flush() {
	for {
		time.Sleep(refusalWindow / 4)
		var due []registry.AuditRecord
		r.mu.Lock()
		for k, w := range r.open {
			if time.Since(w.started) < refusalWindow {
				continue
			}
			delete(r.open, k)
			if w.more > 0 {
				due = append(due, repeated(w.rec, w.more))
			}
		}
		idle := len(r.open) == 0
		if idle {
			r.running = false
		}
		r.mu.Unlock()
		for _, rec := range due {
			r.write(rec)
		}
		if idle {
			return
		}
	}
}

// repeated is the AuditEvent of n more refusals like rec in one window.
func repeated(rec registry.AuditRecord, n int) registry.AuditRecord {
	detail := make(map[string]string, len(rec.Detail)+2)
	for k, v := range rec.Detail {
		detail[k] = v
	}
	detail["count"] = strconv.Itoa(n)
	detail["window"] = refusalWindow.String()
	rec.Detail = detail
	rec.Recorded = time.Time{}
	rec.OutcomeDesc = rec.OutcomeDesc + " (repeated " + strconv.Itoa(n) + " more times within " + refusalWindow.String() + ")"
	return rec
}

// newRefusals writes through the server's auditor (none: nothing).
func (s *Server) newRefusals() *refusals {
	return &refusals{open: map[string]*refusalCount{}, write: func(rec registry.AuditRecord) {
		if s.cfg.Audit == nil {
			return
		}
		if _, err := s.cfg.Audit.Record(context.Background(), rec); err != nil {
			s.log.Error("audit of a refusal failed", "err", err)
		}
	}}
}
