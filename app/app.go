// Package app wires idem together: configuration, the store, the registry
// service and the web server, and the command-line subcommands. It is the only
// package that imports all the others.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"idem/exchange"
	"idem/outbound"
	"idem/policy"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/web"
)

// Version is the software version, set at build time with -ldflags.
var Version = "dev"

// Main runs the idem command line with args (without the program name) and
// returns the process exit code. It stops serving when ctx is cancelled.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
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
	case "version":
		fmt.Fprintln(stdout, "idem", Version)
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
  user      admin UI users: user add NAME --role steward|admin [--password P] | passwd NAME | list
  version   print the version
  help      show this help

Run "idem serve -h" for the flags; each flag has an IDEM_* environment variable.
`)
}

func serveCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
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
	fmt.Fprintf(stdout, "idem %s listening on %s (FHIR base %s)\n", Version, inst.URL(), inst.URL()+"/fhir")
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
	done     chan error
	exchange *exchange.Service
	stopEx   context.CancelFunc // stops the delivery and pull worker
	exDone   chan struct{}
}

// Start opens the database and starts serving on cfg.Addr (":0" picks a free
// port; see URL).
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Instance, error) {
	limits, err := registry.ParseLimits(cfg.MaxRepeats)
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
	o, err := open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	store := o.store
	ex := newExchange(cfg, o, allow, log)
	if err := bootstrapAccess(ctx, cfg, o, log); err != nil {
		o.close()
		return nil, err
	}
	if cfg.Seed {
		if err := seedDemo(ctx, o, log); err != nil {
			o.close()
			return nil, err
		}
	}
	srv := web.New(web.Config{BaseURL: cfg.BaseURL, MaxBody: cfg.MaxBody, Version: Version, Started: time.Now(),
		Auth: policyAuth{o.authz}, Audit: o.auditor, Limits: limits, TrustedProxies: proxies, Exchange: ex},
		o.svc, o.matcher, o.linker, log, store.Ping)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		o.close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	inst := &Instance{cfg: cfg, log: log, store: store, authz: o.authz, server: srv, listener: ln, done: make(chan error, 1), exchange: ex}
	go func() { inst.done <- srv.App().Listener(ln) }()
	inst.startExchange()
	log.Info("serving", "addr", ln.Addr().String(), "db", describeDB(cfg.DB))
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
	err := i.server.App().ShutdownWithTimeout(i.cfg.ShutdownFor)
	<-i.done
	i.stopEx()
	<-i.exDone
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
