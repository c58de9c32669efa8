package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"idem/linkage"
	"idem/policy"
	"idem/registry"
	"idem/registry/bulk"
	"idem/registry/exchange"
	"idem/registry/fhir"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/policystore"
	"idem/seed"
	"idem/web"
)

// opened is a store with the registry and matcher wired as serve wires them.
type opened struct {
	store   *sqlstore.Store
	svc     *registry.Service
	models  *linkage.Models
	matcher *linkage.Matcher
	linker  *linkage.Linker
	calib   *linkage.Calibrator
	auditor *registry.Auditor
	authz   *policy.Authorizer
	log     *slog.Logger
	bulk    *bulk.Jobs
}

// close closes the policy's reloader and the store.
func (o *opened) close() error {
	o.authz.Close()
	return o.store.Close()
}

func open(ctx context.Context, cfg Config, log *slog.Logger) (*opened, error) {
	rules, err := cfg.rules()
	if err != nil {
		return nil, err
	}
	store, err := sqlstore.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	pcfg, err := cfg.policyConfig(log)
	if err != nil {
		store.Close()
		return nil, err
	}
	authz, err := policy.Open(ctx, policystore.New(store), pcfg)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("policy: %w", err)
	}
	// The write pipeline (registry/pipeline.go), every step handed in here:
	// authorize (the policy, as the Guard) → resolve and link (the
	// linker) → store (the Writer: also the system path golden records
	// and AuditEvents take) → audit.
	models := linkage.NewModels(store, rules, modelRefresh, log)
	matcher := linkage.NewMatcher(store, models, log)
	w := &registry.Writer{MatchIndex: matcher.Index, Now: cfg.now}
	linker := linkage.NewLinker(store, w, matcher, linkage.LinkerConfig{AutoLink: authz.AutoLink}, log)
	auditor := registry.NewAuditor(store, w, auditSource(cfg))
	svc := &registry.Service{Store: store, Writer: w, Steps: registry.Steps{
		Authorize: web.NewGuard(authz),
		Link:      linker,
		Audit:     auditor,
		Notify:    exchange.Notifier{},
	}}
	limits, err := fhir.ParseLimits(cfg.MaxRepeats)
	if err != nil {
		authz.Close()
		store.Close()
		return nil, fmt.Errorf("IDEM_MAX_REPEATS: %w", err)
	}
	calib := linkage.NewCalibrator(linker, models, linkage.CalibrateConfig{AutoTrain: cfg.AutoTrain, AutoApply: cfg.AutoApply, Growth: cfg.RetrainGrowth}, log)
	jobs := bulk.New(svc, store, limits, log)
	jobs.Now = cfg.now
	// A bulk load into a registry whose model is the rules' untrained one
	// (or stale) stores its records unlinked — the same pipeline without
	// its link step — and the calibration links them once trained on them.
	jobs.Calibration = calib
	jobs.Unlinked = &registry.Service{Store: store, Writer: w, Steps: registry.Steps{
		Authorize: svc.Authorize, Link: linker.Deferred(), Audit: auditor, Notify: exchange.Notifier{}}}
	// One durable job queue (the job table): imports, exports, re-matches and model jobs.
	jobs.Handle(linkage.JobRematch, linker.RunRematch)
	// Training, dry runs, applies and rollbacks asked for by stewards.
	jobs.Handle(linkage.JobModel, calib.JobRunner(store))
	if cfg.JobLease > 0 {
		jobs.Lease = cfg.JobLease
	}
	return &opened{store: store, authz: authz, models: models, matcher: matcher, linker: linker, calib: calib, auditor: auditor, svc: svc, bulk: jobs, log: log}, nil
}

// withStore opens the database as serve does, runs fn, and closes it.
func withStore(ctx context.Context, cfg Config, stderr io.Writer, fn func(o *opened) error) error {
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	o, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer o.close()
	return fn(o)
}

// commandFlags parses a subcommand's flags: the database and log flags
// (storeFlags) plus its own (extra); "-h" lists only these.
func commandFlags(name string, cfg *Config, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) error {
	return newFlags(name, "", cfg, stderr, storeFlags, extra).Parse(args)
}

// newFlags builds a subcommand's flag set: common registers the shared
// configuration flags it takes, extra its own; operands describes what
// follows the command in its usage line.
func newFlags(name, operands string, cfg *Config, stderr io.Writer, common func(*flag.FlagSet, *Config), extra func(fs *flag.FlagSet)) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	common(fs, cfg)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: idem %s%s [flags]\n\nflags (each configuration flag also has an IDEM_* environment variable):\n", name, operands)
		fs.PrintDefaults()
	}
	return fs
}

// seedCommand writes a synthetic network as NDJSON, or loads it into the database.
func seedCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sc := seed.Config{Seed: 1}
	var out string
	var load bool
	err := commandFlags("seed", &cfg, args, stderr, func(fs *flag.FlagSet) {
		rulesFlag(fs, &cfg)
		fs.StringVar(&cfg.Sharing, "sharing", cfg.Sharing, "sharing architecture per resource type, for --load (IDEM_SHARING)")
		fs.IntVar(&sc.Persons, "persons", 1000, "distinct people")
		fs.IntVar(&sc.Practitioners, "practitioners", 100, "distinct practitioners")
		fs.IntVar(&sc.Locations, "locations", 50, "distinct locations")
		fs.Uint64Var(&sc.Seed, "seed", sc.Seed, "random seed (same seed, same data)")
		fs.StringVar(&sc.Profile, "profile", seed.ProfileDefault, "kind of network: "+strings.Join(seed.Profiles(), ", "))
		fs.StringVar(&out, "out", "", "write Patient/Practitioner/Location NDJSON and truth.csv to this directory")
		fs.BoolVar(&load, "load", false, "load into the database (IDEM_DB) through the normal write path")
	})
	if err != nil {
		return err
	}
	switch {
	case out != "" && !load:
		sum, err := seed.WriteNDJSON(out, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %+v\n", out, sum)
		return nil
	case load && out == "":
		return withStore(ctx, cfg, stderr, func(o *opened) error {
			total, err := countNetwork(sc)
			if err != nil {
				return err
			}
			p := newProgress(stderr, o.log, "loading the network", total)
			n, err := loadNetwork(ctx, o.svc, sc, p.Set)
			p.Finish()
			fmt.Fprintf(stdout, "loaded %d resources into %s\n", n, describeDB(cfg.DB))
			return err
		})
	}
	return fmt.Errorf("seed: give exactly one of --out DIR or --load")
}

// loadBatch is the number of resources per transaction when loading.
const loadBatch = 500

// loadNetwork generates a network and stores it with transaction Bundles;
// progress, when not nil, hears the number of resources stored after each.
func loadNetwork(ctx context.Context, svc *registry.Service, sc seed.Config, progress func(stored int)) (int, error) {
	if _, ok := registry.ActorIn(ctx); !ok {
		ctx = registry.WithActor(ctx, registry.SystemActor("idem seed"))
	}
	var batch []any
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": batch}
		batch = nil
		if _, err := svc.Bundle(ctx, b, registry.BundleOptions{}); err != nil {
			return err
		}
		if progress != nil {
			progress(n)
		}
		return nil
	}
	err := seed.Generate(sc, func(r seed.Record) error {
		n++
		batch = append(batch, map[string]any{"resource": r.Resource, "request": map[string]any{"method": "POST", "url": r.Type}})
		if len(batch) >= loadBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// matchCommand runs "idem match train|models|dry-run|apply|rollback|reindex".
func matchCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "reindex":
		return reindexCommand(ctx, cfg, args, stdout, stderr)
	case "train", "models", "dry-run", "apply", "rollback":
		return modelCommand(ctx, cfg, sub, args, stdout, stderr)
	}
	return fmt.Errorf("usage: idem match train [--type Patient|Practitioner|Location] [--apply] | models | dry-run VERSION | apply VERSION | rollback | reindex")
}

// reindexCommand recomputes every record's blocking keys with the current
// rules (needed after a rules file changes its blocking keys).
func reindexCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if err := commandFlags("match reindex", &cfg, args, stderr, func(fs *flag.FlagSet) { rulesFlag(fs, &cfg) }); err != nil {
		return err
	}
	if err := requireDB(cfg.DB); err != nil {
		return err
	}
	types := []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		total := 0
		for _, typ := range types {
			n, err := o.store.CountResources(ctx, typ)
			if err != nil {
				return err
			}
			total += n
		}
		// linkage.Reindex reports nothing while it runs: the bar moves a
		// type at a time.
		p := newProgress(stderr, o.log, "re-keying records", total)
		var done []string
		for _, typ := range types {
			p.Step(typ)
			n, err := linkage.Reindex(ctx, o.store, o.matcher, typ)
			if err != nil {
				p.Finish()
				return err
			}
			p.Add(n)
			done = append(done, fmt.Sprintf("re-keyed %d %s records", n, typ))
		}
		p.Finish() // before the report, which would break the bar's line
		fmt.Fprintln(stdout, strings.Join(done, "\n"))
		return nil
	})
}
