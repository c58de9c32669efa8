package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"idem/exchange"
	"idem/linkage"
	"idem/matching"
	"idem/policy"
	"idem/registry"
	"idem/registry/sqlstore"
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
	auditor *registry.Auditor
	authz   *policy.Authorizer
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
	authz, err := policy.Open(ctx, storeDB{store}, pcfg)
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
	w := &registry.Writer{MatchIndex: matcher.Index}
	linker := linkage.NewLinker(store, w, matcher, linkage.LinkerConfig{AutoLink: authz.AutoLink}, log)
	auditor := registry.NewAuditor(store, w, auditSource(cfg))
	svc := &registry.Service{Store: store, Writer: w, Steps: registry.Steps{
		Authorize: web.NewGuard(policyAuth{authz}),
		Link:      linker,
		Audit:     auditor,
		Notify:    exchange.Notifier{},
	}}
	return &opened{store: store, authz: authz, models: models, matcher: matcher, linker: linker, auditor: auditor, svc: svc}, nil
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

// commandFlags parses the configuration flags plus extra ones for a subcommand.
func commandFlags(name string, cfg *Config, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlags(fs, cfg)
	if extra != nil {
		extra(fs)
	}
	return fs.Parse(args)
}

// seedCommand writes a synthetic network as NDJSON, or loads it into the database.
func seedCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sc := seed.Config{Seed: 1}
	var out string
	var load bool
	err := commandFlags("seed", &cfg, args, stderr, func(fs *flag.FlagSet) {
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
			n, err := loadNetwork(ctx, o.svc, sc, nil)
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

// matchCommand runs "idem match train" and "idem match reindex".
func matchCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reindex" {
		return reindexCommand(ctx, cfg, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "train" {
		return fmt.Errorf("usage: idem match train [--type Patient|Practitioner|Location] [--sample N] | idem match reindex")
	}
	typ, sample := "Patient", 200_000
	err := commandFlags("match train", &cfg, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&typ, "type", typ, "resource type to train for")
		fs.IntVar(&sample, "sample", sample, "at most this many records are read for training")
	})
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		recs, err := readRecords(ctx, o.store, typ, sample)
		if err != nil {
			return err
		}
		start := time.Now()
		model, report, err := matching.Train(o.models.Current(ctx), typ, recs, matching.TrainOptions{})
		if err != nil {
			return err
		}
		v, err := o.models.Save(ctx, model, fmt.Sprintf("idem match train: %d %s records", len(recs), typ))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "trained on %d %s records in %v; stored as model version %d\n%s\n", len(recs), typ, time.Since(start).Round(time.Millisecond), v, report)
		return nil
	})
}

// reindexCommand recomputes every record's blocking keys with the current
// rules (needed after a rules file changes its blocking keys).
func reindexCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if err := commandFlags("match reindex", &cfg, args, stderr, nil); err != nil {
		return err
	}
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		for _, typ := range []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation} {
			n, err := linkage.Reindex(ctx, o.store, o.matcher, typ)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "re-keyed %d %s records\n", n, typ)
		}
		return nil
	})
}

// readRecords pages through the current resources of typ.
func readRecords(ctx context.Context, store registry.Store, typ string, limit int) ([]*matching.Record, error) {
	var recs []*matching.Record
	q := &registry.Query{Type: typ, Count: 1000, NoTotal: true}
	for len(recs) < limit {
		res, err := store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range res.Matches {
			body, err := registry.DecodeStored(r)
			if err != nil {
				return nil, err
			}
			recs = append(recs, matching.Extract(typ, body))
		}
		if res.Next == "" {
			break
		}
		q.Page = res.Next
	}
	return recs[:min(len(recs), limit)], nil
}

// seedDemo loads the demo network (seed.Demo) through the normal write
// path, linking included, when the database holds no Patient yet: a new
// user finds Persons, Linkages and open review items at once.
func seedDemo(ctx context.Context, o *opened, log *slog.Logger) error {
	page, err := o.store.Search(ctx, &registry.Query{Type: registry.TypePatient, Count: 1, NoTotal: true})
	if err != nil {
		return err
	}
	if len(page.Matches) > 0 {
		return nil
	}
	log.Info("empty database: loading the demo network (IDEM_SEED=false turns this off)")
	start := time.Now()
	n, err := loadNetwork(registry.WithActor(ctx, registry.SystemActor("idem demo")), o.svc, seed.Demo(), func(stored int) {
		if stored%2000 < loadBatch {
			log.Info("loading the demo network", "resources", stored, "linked", true)
		}
	})
	if err != nil {
		return fmt.Errorf("demo network: %w", err)
	}
	log.Info("demo network loaded", "resources", n, "seconds", time.Since(start).Round(time.Second).Seconds())
	return nil
}
