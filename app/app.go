// Package app wires idem together: configuration, the store, the registry
// service and the web server, and the command-line subcommands. It is the only
// package that imports all the others.
package app

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"idem/policy"
	"idem/registry"
	"idem/registry/exchange"
	"idem/registry/fhir"
	"idem/registry/outbound"
	"idem/registry/sqlstore"
	"idem/web"
	"idem/web/ui"
)

// Main runs the idem command line with args (without the program name) and
// returns the process exit code. It stops serving when ctx is cancelled.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		cmd, args = "version", args[1:]
	}
	cfg := DefaultConfig()
	if err := cfg.fromEnv(getenv); err != nil {
		fmt.Fprintln(stderr, "idem:", err)
		return 2
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCommand(ctx, cfg, args, stdout, stderr)
	case "seed":
		err = seedCommand(ctx, cfg, args, stdout, stderr)
	case "match":
		err = matchCommand(ctx, cfg, args, stdout, stderr)
	case "eval":
		err = evalCommand(ctx, cfg, args, stdout, stderr)
	case "client":
		err = clientCommand(ctx, cfg, args, stdout, stderr)
	case "user":
		err = userCommand(ctx, cfg, args, stdout, stderr)
	case "healthcheck":
		err = healthcheckCommand(ctx, cfg, args, stdout, stderr)
	case "import":
		err = importCommand(ctx, cfg, args, stdout, stderr)
	case "secrets":
		err = secretsCommand(ctx, cfg, args, stdout, stderr)
	case "version":
		printVersion(stdout)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "idem: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "idem:", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: idem [command] [flags]

commands:
  serve     run the registry (default)
  seed      generate a synthetic multi-system network (--out DIR as NDJSON, or --load into the database)
  match     match train: fit the matching model to the stored records, without labels;
            match reindex: recompute blocking keys after a rules change
  eval      evaluate the matcher on FEBRL files (--febrl) and generated data (--generated N);
            --linked: load them through the write path and score the Persons built
  client    client systems: client add NAME --system URI --role ROLE [--domain SYSTEM]... [--expires 90d] [--jwks FILE] | list | revoke NAME | rotate NAME
  import    import FILE...|- [--client NAME] [--format ndjson|bundle|csv] [--map given=first_name,...] [--strict]:
            load local NDJSON, Bundle JSON or CSV through the write pipeline, with a match report
  secrets   stored credentials: secrets keygen (print a new IDEM_SECRET_KEY) | rotate (re-seal them under
            IDEM_SECRET_KEY, reading with IDEM_SECRET_KEY_OLD)
  user      admin UI users: user add NAME --role steward|admin [--password P] | passwd NAME | list
  healthcheck  exit 0 when the server on --addr answers /healthz (the container's health check)
  version   print the version (also --version)
  help      show this help

Run "idem serve -h" for the server's flags (each has an IDEM_* environment
variable), "idem COMMAND -h" for a command's.
`)
}

func serveCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if err := newFlags("serve", "", &cfg, stderr, configFlags, nil).Parse(args); err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	inst, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return inst.Close()
}

// modelRefresh is how often an instance looks for a newer trained model.
const modelRefresh = 30 * time.Second

// Instance is a running idem server.
type Instance struct {
	cfg      Config
	log      *slog.Logger
	store    *sqlstore.Store
	authz    *policy.Authorizer
	server   *web.Server
	listener net.Listener
	metrics  *metricsServer       // nil unless IDEM_METRICS_ADDR
	demo     *demoLoad            // nil unless the demo network loads
	reads    *registry.AuditQueue // nil unless IDEM_AUDIT_READS
	done     chan error
	stopJobs context.CancelFunc // stops the bulk job worker
	jobsDone chan struct{}
	exchange *exchange.Service
	stopEx   context.CancelFunc // stops the delivery and pull worker
	exDone   chan struct{}
	stopHeld context.CancelFunc // stops releasing held writes
	heldDone chan struct{}
}

// Start opens the database and starts serving on cfg.Addr (":0" picks a free
// port; see URL). On an empty database the demo network (cfg.Seed) loads in
// the background: the server answers at once, /readyz with 503 meanwhile.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Instance, error) {
	limits, err := fhir.ParseLimits(cfg.MaxRepeats)
	if err != nil {
		return nil, fmt.Errorf("IDEM_MAX_REPEATS: %w", err)
	}
	proxies, err := cfg.proxies()
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	allow, err := outbound.Parse(cfg.OutboundAllow)
	if err != nil {
		return nil, err
	}
	ring, err := cfg.keyring(log)
	if err != nil {
		return nil, err
	}
	o, err := open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ex := newExchange(cfg, o, allow, ring, log)
	if err := prepareSecrets(ctx, cfg, ex, ring, log); err != nil {
		o.close()
		return nil, err
	}
	inst, err := start(ctx, cfg, o, limits, proxies, ex, log)
	if err != nil {
		o.close()
		return nil, err
	}
	return inst, nil
}

func start(ctx context.Context, cfg Config, o *opened, limits fhir.Limits, proxies []netip.Prefix, ex *exchange.Service, log *slog.Logger) (*Instance, error) {
	if err := bootstrapAccess(ctx, cfg, o, log); err != nil {
		return nil, err
	}
	var demo *demoLoad
	if cfg.Seed {
		var err error
		if demo, err = prepareDemo(ctx, cfg, o, log); err != nil {
			return nil, fmt.Errorf("demo network: %w", err)
		}
	}
	m, err := newMetrics(o.store)
	if err != nil {
		return nil, err
	}
	var reads *registry.AuditQueue
	if cfg.AuditReads {
		reads = registry.NewAuditQueue(o.auditor, registry.AuditQueueOptions{Every: cfg.auditEvery}, log)
	}
	srv := web.New(web.Config{BaseURL: cfg.BaseURL, MaxBody: cfg.MaxBody, Version: versionString(), Started: time.Now(),
		Auth: o.authz, Audit: o.auditor, Limits: limits, TrustedProxies: proxies,
		Metrics: m, MetricsElsewhere: cfg.MetricsAddr != "", MetricsToken: cfg.MetricsToken, Loading: demo.message, Bulk: o.bulk, Exchange: ex, ReadAudit: reads,
		Federation: ex, FederatedTimeout: cfg.FederatedTimeout, FederatedTTL: cfg.FederatedTTL, Calibrator: o.calib},
		o.svc, o.matcher, o.linker, log, o.store.Ping)
	ui.Mount(srv, ui.Config{Registry: o.svc, Matcher: o.matcher, Linker: o.linker, Auth: o.authz, Bulk: o.bulk, Exchange: ex, Calibrator: o.calib, Log: log})
	var ms *metricsServer
	if cfg.MetricsAddr != "" {
		if ms, err = startMetricsServer(cfg.MetricsAddr, m, log); err != nil {
			reads.Close()
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		ms.close(ctx)
		reads.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	inst := &Instance{cfg: cfg, log: log, store: o.store, authz: o.authz, server: srv, listener: ln, metrics: ms, demo: demo, reads: reads,
		done: make(chan error, 1), stopJobs: stopJobs, jobsDone: make(chan struct{}), exchange: ex}
	go func() { inst.done <- srv.App().Listener(ln) }()
	go func() { defer close(inst.jobsDone); o.bulk.Run(jobsCtx) }()
	if cfg.AutoTrain {
		// Growth since the last model is a count per type, checked off the
		// write path; a due type is trained (and applied with AutoApply).
		go o.calib.Watch(jobsCtx, cmp.Or(cfg.growthEvery, time.Minute))
	}
	inst.startExchange()
	inst.startHeld(o.svc, cfg.HeldPoll)
	log.Info("listening", "version", versionString(), "url", inst.URL(), "fhir", inst.URL()+"/fhir", "db", describeDB(cfg.DB))
	if demo != nil {
		demo.start(o, m, log)
	}
	return inst, nil
}

// URL returns the server's root URL, e.g. http://127.0.0.1:8080.
func (i *Instance) URL() string {
	addr := i.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Close stops accepting requests, waits for those in flight (up to the
// shutdown timeout), then closes the database.
func (i *Instance) Close() error {
	i.log.Info("shutting down")
	i.demo.stop()
	err := i.server.App().ShutdownWithTimeout(i.cfg.ShutdownFor)
	<-i.done
	ctx, cancel := context.WithTimeout(context.Background(), i.cfg.ShutdownFor)
	defer cancel()
	err = errors.Join(err, i.metrics.close(ctx))
	i.stopJobs() // a batch in flight is rolled back; the job resumes at the next start
	<-i.jobsDone
	i.stopEx()
	<-i.exDone
	i.stopHeld()
	<-i.heldDone
	i.reads.Close() // the read events still queued, after the last request
	i.authz.Close()
	return errors.Join(err, i.store.Close())
}

// describeDB names the database for logs without leaking a password.
func describeDB(dsn string) string {
	if !sqlstore.IsPostgres(dsn) {
		return "sqlite:" + dsn
	}
	if at := strings.LastIndex(dsn, "@"); at >= 0 {
		return "postgres://…@" + dsn[at+1:]
	}
	return "postgres"
}
