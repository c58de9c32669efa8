package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"idem/policy"
	"idem/registry"
	"idem/registry/bulk"
	"idem/seed"
	"idem/web/metrics"
)

// demoLoad is the demo network loading in the background on first start:
// the server listens at once, /readyz answers 503 and the admin UI shows a
// banner until it is done.
type demoLoad struct {
	cfg     seed.Config
	gate    <-chan struct{} // nil, or closed when the load may begin
	total   int
	done    atomic.Int64
	loading atomic.Bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// prepareDemo returns the demo load to start when the database holds no
// Patient yet (nil otherwise), after registering the demo's source systems
// as clients that own their identifier domains.
func prepareDemo(ctx context.Context, cfg Config, o *opened, log *slog.Logger) (*demoLoad, error) {
	page, err := o.store.Search(ctx, &registry.Query{Type: registry.TypePatient, Count: 1, NoTotal: true})
	if err != nil {
		return nil, err
	}
	if len(page.Matches) > 0 {
		return nil, nil
	}
	if err := addDemoClients(ctx, o.authz, log); err != nil {
		return nil, err
	}
	d := &demoLoad{cfg: seed.Demo(), gate: cfg.demoGate}
	if cfg.demo != nil {
		d.cfg = *cfg.demo
	}
	if d.total, err = countNetwork(d.cfg); err != nil {
		return nil, err
	}
	d.loading.Store(true)
	return d, nil
}

// message says how far the load is, or "" when it is not running.
func (d *demoLoad) message() string {
	if d == nil || !d.loading.Load() {
		return ""
	}
	return fmt.Sprintf("loading demo data (%d of %d)", d.done.Load(), d.total)
}

// start loads the network in a goroutine through the bulk import path —
// the same batches, write pipeline, linking and audit as POST $import, as
// the system actor "idem demo"; stop ends it (the import job resumes at
// the next start).
func (d *demoLoad) start(o *opened, m *metrics.Metrics, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.loading.Store(false)
		if d.gate != nil {
			select {
			case <-d.gate:
			case <-ctx.Done():
				return
			}
		}
		log.Info("empty database: loading the demo network in the background (IDEM_SEED=false turns this off)", "resources", d.total)
		m.Progress("demo", 0, d.total)
		start, last := time.Now(), time.Now()
		n, err := d.load(ctx, o, func(stored int) {
			d.done.Store(int64(stored))
			m.Progress("demo", stored, d.total)
			if time.Since(last) >= 2*time.Second {
				last = time.Now()
				log.Info("loading the demo network", "done", stored, "total", d.total)
			}
		})
		switch {
		case errors.Is(err, context.Canceled):
			log.Warn("demo network load stopped; it resumes at the next start", "done", d.done.Load(), "total", d.total)
		case err != nil:
			log.Error("demo network load failed", "err", err)
		default:
			log.Info("demo network loaded", "resources", n, "seconds", time.Since(start).Round(time.Second).Seconds())
		}
	}()
}

// load submits the generated network as one import job and works it here.
func (d *demoLoad) load(ctx context.Context, o *opened, progress func(stored int)) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		enc := json.NewEncoder(pw)
		pw.CloseWithError(seed.Generate(d.cfg, func(r seed.Record) error { return enc.Encode(r.Resource) }))
	}()
	job, err := o.bulk.Submit(ctx, registry.SystemActor("idem demo"), pr, bulk.ImportOptions{Request: "idem demo network", Local: true})
	if err != nil {
		return 0, err
	}
	err = o.bulk.Work(ctx, job.ID, func(j *registry.BulkJob) { progress(int(j.Done)) })
	return int(job.Total), err
}

// stop cancels the load and waits for it.
func (d *demoLoad) stop() {
	if d == nil || d.cancel == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
}

// countNetwork counts the resources a network configuration generates
// (generation is cheap next to storing).
func countNetwork(sc seed.Config) (int, error) {
	n := 0
	err := seed.Generate(sc, func(seed.Record) error { n++; return nil })
	return n, err
}

// demoClientName names the client of a demo source system after its host,
// e.g. http://ehr.stmarys.example.org → ehr.stmarys.
func demoClientName(sys seed.System) string {
	u, err := url.Parse(sys.URI)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Hostname(), ".example.org")
}

// addDemoClients registers each source system of the demo network as a
// source client owning its local identifier domains, so its records have an
// owner and a steward can act as it (`idem client rotate NAME` issues a
// token). Clients that exist already are left alone.
func addDemoClients(ctx context.Context, a *policy.Authorizer, log *slog.Logger) error {
	for _, sys := range seed.Systems() {
		c := policy.Client{Name: demoClientName(sys), System: sys.URI, Roles: []string{"source"}}
		for _, typ := range sys.Types() {
			c.Domains = append(c.Domains, sys.Identifiers[typ])
		}
		_, err := a.AddClient(ctx, c)         // its token is not shown: rotate gives one
		if errors.Is(err, policy.ErrExists) { // a restart, or the operator registered it first
			log.Debug("demo client not added", "client", c.Name, "reason", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("demo client %s: %w", c.Name, err)
		}
		log.Info("demo source system registered as a client (idem client rotate NAME gives it a token)", "client", c.Name, "system", c.System, "domains", strings.Join(c.Domains, ","))
	}
	return nil
}
