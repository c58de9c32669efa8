package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"idem/linkage"
	"idem/registry"
)

// modelCommand is "idem match train|models|dry-run|apply|rollback": the
// self-calibration of matching from the command line, as idem itself.
func modelCommand(ctx context.Context, cfg Config, sub string, args []string, stdout, stderr io.Writer) error {
	typ, apply, sample := registry.TypePatient, false, 200_000
	fs := newFlags("match "+sub, "", &cfg, stderr, storeFlags, func(fs *flag.FlagSet) {
		rulesFlag(fs, &cfg)
		if sub == "train" {
			fs.StringVar(&typ, "type", typ, "resource type to train for")
			fs.BoolVar(&apply, "apply", false, "apply the trained model at once (re-matching the registry)")
			fs.IntVar(&sample, "sample", sample, "at most this many records are read for training")
		}
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := requireDB(cfg.DB); err != nil {
		return err
	}
	var version int64
	if sub == "dry-run" || sub == "apply" {
		v, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if fs.NArg() != 1 || err != nil {
			return fmt.Errorf("usage: idem match %s VERSION (idem match models lists them)", sub)
		}
		version = v
	}
	ctx = registry.WithActor(ctx, registry.SystemActor("idem match "+sub))
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		switch sub {
		case "train":
			stored, err := o.store.CountResources(ctx, typ)
			if err != nil {
				return err
			}
			p := newProgress(stderr, o.log, "reading "+typ+" records", min(stored, sample))
			recs, err := linkage.SampleRecords(ctx, o.store, typ, sample, p.Set)
			p.Finish()
			if err != nil {
				return err
			}
			o.log.Info("training the model (u from random pairs, m by expectation-maximisation)", "records", len(recs))
			start := time.Now()
			sm, err := o.calib.TrainOn(ctx, typ, "idem match train", recs)
			if sm == nil {
				return err
			}
			_, rep, _ := o.calib.Model(ctx, sm.Version)
			if rep.Training != nil {
				fmt.Fprintln(stdout, rep.Training)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "trained on %d of %d %s records in %v: candidate model %d\n", len(recs), sm.Records, typ, time.Since(start).Round(time.Millisecond), sm.Version)
			if !apply {
				fmt.Fprintf(stdout, "see what it would change: idem match dry-run %d; apply it: idem match apply %d\n", sm.Version, sm.Version)
				return nil
			}
			rs, err := o.calib.Apply(ctx, sm.Version)
			printRematches(stdout, "applied", rs)
			return err
		case "models":
			list, err := o.calib.History(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-8s %-10s %-13s %-8s %-20s %-20s %s\n", "version", "state", "type", "records", "created", "applied", "note")
			for _, m := range list {
				applied := ""
				if !m.Applied.IsZero() {
					applied = m.Applied.Format(time.DateTime)
				}
				fmt.Fprintf(stdout, "%-8d %-10s %-13s %-8d %-20s %-20s %s\n", m.Version, m.State, m.Type, m.Records, m.Created.Format(time.DateTime), applied, m.Note)
			}
			return nil
		case "dry-run":
			rs, err := o.calib.DryRun(ctx, version)
			printRematches(stdout, "would change", rs)
			return err
		case "apply":
			rs, err := o.calib.Apply(ctx, version)
			printRematches(stdout, "applied", rs)
			return err
		default: // rollback
			v, rs, err := o.calib.Rollback(ctx)
			if err == nil {
				fmt.Fprintf(stdout, "model %d applied again\n", v)
			}
			printRematches(stdout, "rolled back", rs)
			return err
		}
	})
}

// printRematches prints each type's re-match: counts by kind and a few
// changes with their evidence.
func printRematches(w io.Writer, verb string, rs []*linkage.Rematch) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s: %s %d of %d records:", r.Type, verb, r.Changed(), r.Records)
		for _, k := range []string{linkage.ChangeNewLink, linkage.ChangeMoved, linkage.ChangeUnlinked, linkage.ChangeToReview, linkage.ChangeFromReview} {
			fmt.Fprintf(w, " %s %d", k, r.Counts[k])
		}
		fmt.Fprintln(w)
		for _, c := range r.Changes[:min(len(r.Changes), 10)] {
			line := fmt.Sprintf("  %s %s: %s → %s", c.Source, or(c.Kind, "review"), or(c.From, "none"), or(c.To, "none"))
			if len(c.Review) > 0 {
				line += " review " + strings.Join(c.Review, " ")
			}
			if len(c.Dropped) > 0 {
				line += " out of review " + strings.Join(c.Dropped, " ")
			}
			if c.Evidence != nil {
				ev, _ := json.Marshal(c.Evidence.Fields)
				line += fmt.Sprintf(" (%s %.4f) %s", c.Grade, c.Score, ev)
			}
			fmt.Fprintln(w, line)
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
