package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// evalOptions are the flags of "idem eval".
type evalOptions struct {
	febrl                               string
	generated, practitioners, locations int
	profiles                            []string
	types                               []string // resource types evaluated (evalTypes when empty)
	wrong                               int      // false and missed pairs printed with evidence
	missed                              int      // with --linked: true pairs not linked printed with evidence
	kinds                               bool     // with --linked: recall by the generator's kinds of error
	linked, calibrated                  bool
}

// evalCommand evaluates the matcher on FEBRL files and on generated data,
// per generator profile and resource type.
func evalCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	o := evalOptions{generated: 5000, practitioners: -1, locations: -1}
	profiles, types := seed.ProfileDefault, ""
	err := newFlags("eval", "", &cfg, stderr, logFlags, func(fs *flag.FlagSet) {
		rulesFlag(fs, &cfg)
		fs.StringVar(&o.febrl, "febrl", "", "comma-separated FEBRL CSV files (e.g. ../shared/data/febrl/dataset1.csv)")
		fs.IntVar(&o.generated, "generated", o.generated, "persons of generated data to evaluate on (0: none)")
		fs.IntVar(&o.practitioners, "practitioners", o.practitioners, "practitioners of generated data (-1: a tenth of --generated)")
		fs.IntVar(&o.locations, "locations", o.locations, "facilities of generated data (-1: a fifth of --generated)")
		fs.StringVar(&profiles, "profile", profiles, "comma-separated generator profiles ("+strings.Join(seed.Profiles(), ", ")+", or all)")
		fs.StringVar(&types, "types", "", "comma-separated resource types to evaluate on generated data (default: "+strings.Join(evalTypes, ", ")+")")
		fs.IntVar(&o.wrong, "wrong", 0, "print up to N false and N missed certain pairs per data set with their evidence (scored in memory under the model)")
		fs.IntVar(&o.missed, "missed", 0, "with --linked: print up to N true pairs not linked (in review or missed) with their kinds of error and evidence")
		fs.BoolVar(&o.kinds, "kinds", false, "with --linked: recall of generated true pairs by the kinds of error the generator applied, errors per pair and records per entity")
		fs.BoolVar(&o.linked, "linked", false, "load the records through the registry (as several source systems, linking on every create) and score the golden records built")
		fs.BoolVar(&o.calibrated, "calibrated", false, "with --linked: load as a calibrated first load (stored unlinked, a model trained on them, then linked by the re-match)")
	}).Parse(args)
	if err != nil {
		return err
	}
	o.profiles, o.types = strings.Split(profiles, ","), splitList(types)
	if profiles == "all" {
		o.profiles = seed.Profiles()
	}
	if o.practitioners < 0 {
		o.practitioners = o.generated / 10
	}
	if o.locations < 0 {
		o.locations = o.generated / 5
	}
	if o.linked {
		return evalLinkedCommand(ctx, cfg, o, stdout)
	}
	rules, err := cfg.rules()
	if err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	base := matching.NewModel(rules)
	for _, path := range splitList(o.febrl) {
		recs, truth, err := febrlRecords(path)
		if err != nil {
			return err
		}
		evaluate(stdout, newProgress(stderr, log, "evaluating "+path, 2), path, registry.TypePatient, base, recs, truth)
		printWrongPairs(stdout, base, registry.TypePatient, recs, truth, o.wrong)
	}
	return o.eachGenerated(func(profile, typ string, s *labelled) error {
		name := generatedName(profile, o.generated)
		evaluate(stdout, newProgress(stderr, log, "evaluating "+name, 2), name, typ, base, s.recs, s.truth)
		printWrongPairs(stdout, base, typ, s.recs, s.truth, o.wrong)
		return nil
	})
}

// eachGenerated generates each profile's network (none without
// --generated) and calls fn for every type that has records.
func (o evalOptions) eachGenerated(fn func(profile, typ string, s *labelled) error) error {
	if o.generated <= 0 {
		return nil
	}
	for _, p := range o.profiles {
		sets, err := generatedRecords(o.seedConfig(p))
		if err != nil {
			return err
		}
		for _, typ := range evalTypes {
			if len(o.types) > 0 && !slices.Contains(o.types, typ) {
				continue
			}
			if s := sets[typ]; s != nil && len(s.recs) > 0 {
				if err := fn(p, typ, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// evalTypes are the resource types evaluated, in report order.
var evalTypes = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}

// seedConfig is the generated network of one profile.
func (o evalOptions) seedConfig(profile string) seed.Config {
	return seed.Config{Seed: 7, Persons: o.generated, Practitioners: o.practitioners, Locations: o.locations, Profile: profile}
}

// generatedName names a generated data set in reports.
func generatedName(profile string, persons int) string {
	if profile == "" || profile == seed.ProfileDefault {
		return fmt.Sprintf("generated (%d persons)", persons)
	}
	return fmt.Sprintf("generated %s (%d persons)", profile, persons)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// evaluate prints the default model's report and the report after unsupervised training.
func evaluate(w io.Writer, p *progress, name, typ string, base *matching.Model, recs []*matching.Record, truth []string) {
	defer p.Finish()
	tf := matching.NewFrequencyTable(recs)
	label := name
	if typ != registry.TypePatient {
		label = name + ", " + typ
	}
	p.Step("default model")
	fmt.Fprintf(w, "== %s, default model\n%s\n", label, matching.Evaluate(base, typ, recs, truth, tf))
	p.Add(1)
	p.Step("training")
	trained, _, err := matching.Train(base, typ, recs, matching.TrainOptions{})
	if err != nil {
		fmt.Fprintf(w, "== %s: training failed: %v\n", label, err)
		return
	}
	fmt.Fprintf(w, "== %s, trained without labels\n%s\n", label, matching.Evaluate(trained, typ, recs, truth, tf))
	p.Add(1)
}

// printWrongPairs prints up to n false and n missed certain pairs of the
// records under the model, with their evidence (nothing when n is 0).
func printWrongPairs(w io.Writer, m *matching.Model, typ string, recs []*matching.Record, truth []string, n int) {
	if n <= 0 {
		return
	}
	for _, s := range matching.WrongPairs(m, typ, recs, truth, matching.NewFrequencyTable(recs), n) {
		fmt.Fprint(w, s)
	}
}

// printFalseLinks prints up to n wrongly linked pairs with their evidence
// under the configured rules (not a model the load may have trained).
func printFalseLinks(w io.Writer, cfg Config, typ string, resources []map[string]any, pairs [][2]int, n int) error {
	if n <= 0 || len(pairs) == 0 {
		return nil
	}
	rules, err := cfg.rules()
	if err != nil {
		return err
	}
	recs := make([]*matching.Record, len(resources))
	for i, r := range resources {
		recs[i] = matching.Extract(typ, r)
	}
	m, tf := matching.NewModel(rules).ForRegistry(typ, len(recs)), matching.NewFrequencyTable(recs)
	for _, p := range pairs[:min(n, len(pairs))] {
		a, b := recs[p[0]], recs[p[1]]
		fmt.Fprint(w, matching.PairSample{False: true, A: a, B: b, Match: m.Explain(a, b, tf)})
	}
	return nil
}

func febrlRecords(path string) ([]*matching.Record, []string, error) {
	f, err := openFEBRL(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	patients, truth, err := seed.ReadFEBRL(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	recs := make([]*matching.Record, len(patients))
	for i, p := range patients {
		recs[i] = matching.Extract("Patient", p)
	}
	return recs, truth, nil
}

// openFEBRL opens a FEBRL file, saying where the data sets come from when
// it is missing (a clone of idem does not hold them).
func openFEBRL(path string) (*os.File, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("FEBRL file %s not found: the FEBRL data sets (dataset1.csv, dataset2.csv) are in the project's shared data, ../shared/data/febrl beside the repository, not in a clone of it; without them, evaluate on generated data only (--generated N)", path)
	}
	return f, err
}

// labelled are the records of one type with their entities.
type labelled struct {
	recs      []*matching.Record
	resources []map[string]any
	truth     []string
	errs      [][]string // the generator's kinds of error per record
}

// generatedRecords generates a network and returns its records by type.
func generatedRecords(sc seed.Config) (map[string]*labelled, error) {
	sets := map[string]*labelled{}
	err := seed.Generate(sc, func(r seed.Record) error {
		s := sets[r.Type]
		if s == nil {
			s = &labelled{}
			sets[r.Type] = s
		}
		s.recs = append(s.recs, matching.Extract(r.Type, r.Resource))
		s.resources = append(s.resources, r.Resource)
		s.truth = append(s.truth, r.Entity)
		s.errs = append(s.errs, r.Errors)
		return nil
	})
	return sets, err
}

// evalLinkedCommand is "idem eval --linked".
func evalLinkedCommand(ctx context.Context, cfg Config, o evalOptions, stdout io.Writer) error {
	run := func(name, typ string, resources []map[string]any, entity []string, errs [][]string) error {
		if !o.kinds && o.missed == 0 {
			errs = nil
		}
		rep, err := evalLinked(ctx, cfg, typ, resources, entity, errs, o.calibrated, o.missed)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		how := "linked on write"
		if o.calibrated {
			how = "calibrated load (stored unlinked, trained, re-matched)"
		}
		fmt.Fprintf(stdout, "== %s, %s\n%s\n", name, how, rep)
		if rep.Errors != nil && o.kinds {
			rep.Errors.write(stdout)
		}
		if rep.Errors != nil {
			if err := printLost(stdout, cfg, typ, resources, errs, rep.Errors.Lost, o.missed); err != nil {
				return err
			}
		}
		return printFalseLinks(stdout, cfg, typ, resources, rep.FalseLinks, o.wrong)
	}
	for _, path := range splitList(o.febrl) {
		f, err := openFEBRL(path)
		if err != nil {
			return err
		}
		patients, entity, err := seed.ReadFEBRL(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		febrlSources(patients)
		if err := run(path, registry.TypePatient, patients, entity, make([][]string, len(patients))); err != nil {
			return err
		}
	}
	return o.eachGenerated(func(profile, typ string, s *labelled) error {
		name := generatedName(profile, o.generated)
		if typ != registry.TypePatient {
			name += ", " + typ
		}
		return run(name, typ, s.resources, s.truth, s.errs)
	})
}
