package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// evalCommand evaluates the matcher on FEBRL files and on generated data.
func evalCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var febrl string
	var linked bool
	generated := 5000
	err := newFlags("eval", "", &cfg, stderr, logFlags, func(fs *flag.FlagSet) {
		rulesFlag(fs, &cfg)
		fs.StringVar(&febrl, "febrl", "", "comma-separated FEBRL CSV files (e.g. ../shared/data/febrl/dataset1.csv)")
		fs.IntVar(&generated, "generated", generated, "persons of generated data to evaluate on (0: none)")
		fs.BoolVar(&linked, "linked", false, "load the records through the registry (as several source systems, linking on every create) and score the Persons built")
	}).Parse(args)
	if err != nil {
		return err
	}
	if linked {
		return evalLinkedCommand(ctx, cfg, febrl, generated, stdout, stderr)
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
	for _, path := range strings.Split(febrl, ",") {
		if path == "" {
			continue
		}
		recs, truth, err := febrlRecords(path)
		if err != nil {
			return err
		}
		evaluate(stdout, newProgress(stderr, log, "evaluating "+path, 3), path, base, recs, truth)
	}
	if generated > 0 {
		recs, truth, err := generatedRecords(seed.Config{Seed: 7, Persons: generated})
		if err != nil {
			return err
		}
		name := fmt.Sprintf("generated (%d persons)", generated)
		evaluate(stdout, newProgress(stderr, log, "evaluating "+name, 3), name, base, recs, truth)
	}
	return nil
}

// evaluate prints the default model's report and the report after
// unsupervised training; p hears the three steps.
func evaluate(w io.Writer, p *progress, name string, base *matching.Model, recs []*matching.Record, truth []string) {
	p.Step("default model")
	tf := matching.NewFrequencyTable(recs)
	def := matching.Evaluate(base, "Patient", recs, truth, tf)
	p.Add(1)
	p.Step("training")
	trained, _, err := matching.Train(base, "Patient", recs, matching.TrainOptions{})
	p.Add(1)
	if err != nil {
		p.Finish()
		fmt.Fprintf(w, "== %s, default model\n%s\n== %s: training failed: %v\n", name, def, name, err)
		return
	}
	p.Step("trained model")
	rep := matching.Evaluate(trained, "Patient", recs, truth, tf)
	p.Add(1)
	p.Finish()
	fmt.Fprintf(w, "== %s, default model\n%s\n== %s, trained without labels\n%s\n", name, def, name, rep)
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

func generatedRecords(sc seed.Config) ([]*matching.Record, []string, error) {
	var recs []*matching.Record
	var truth []string
	err := seed.Generate(sc, func(r seed.Record) error {
		if r.Type == registry.TypePatient {
			recs = append(recs, matching.Extract(r.Type, r.Resource))
			truth = append(truth, r.Entity)
		}
		return nil
	})
	return recs, truth, err
}

// evalLinkedCommand is "idem eval --linked".
func evalLinkedCommand(ctx context.Context, cfg Config, febrl string, generated int, stdout, stderr io.Writer) error {
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	run := func(name string, patients []map[string]any, entity []string) error {
		p := newProgress(stderr, log, "linking "+name, len(patients))
		rep, err := evalLinked(ctx, cfg, patients, entity, p)
		p.Finish()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(stdout, "== %s, linked on write\n%s\n", name, rep)
		return nil
	}
	for _, path := range strings.Split(febrl, ",") {
		if path == "" {
			continue
		}
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
		if err := run(path, patients, entity); err != nil {
			return err
		}
	}
	if generated > 0 {
		patients, entity, err := generatedPatients(seed.Config{Seed: 7, Persons: generated})
		if err != nil {
			return err
		}
		return run(fmt.Sprintf("generated (%d persons)", generated), patients, entity)
	}
	return nil
}
