package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"idem/registry"
	"idem/seed"
)

// linkedReport is the quality of the automatic links after loading labelled
// records through the registry's write path, one create at a time, as
// several source systems would push them.
type linkedReport struct {
	Records, TruePairs          int
	LinkedPairs, CorrectPairs   int
	Review                      int // true pairs not linked but put to a steward (POSSIBLE_MATCH)
	Missed                      int // true pairs neither linked nor in review
	Persons, ReviewItems        int
	Elapsed                     time.Duration
	Precision, Recall, F1, Left float64
	// FalseLinks are the first wrongly linked pairs (record indexes), for
	// printing with their evidence.
	FalseLinks [][2]int
	// Errors is recall by the generator's kinds of error (nil without them).
	Errors *errorReport
}

// maxFalseLinks bounds linkedReport.FalseLinks.
const maxFalseLinks = 50

func (r linkedReport) String() string {
	return fmt.Sprintf(`  records %d   true pairs %d   Persons %d   review items %d   load %.1fs (%.2f ms per create)
  automatic links: pairs %d   correct %d   precision %.4f   recall %.4f   F1 %.4f
  true pairs left to review %d (%.2f%%)   missed %d`,
		r.Records, r.TruePairs, r.Persons, r.ReviewItems, r.Elapsed.Seconds(), float64(r.Elapsed.Microseconds())/1000/float64(max(r.Records, 1)),
		r.LinkedPairs, r.CorrectPairs, r.Precision, r.Recall, r.F1, r.Review, 100*r.Left, r.Missed)
}

// evalLinked loads resources of type typ (with ground truth entity labels)
// into a fresh database through the service with the linker, and scores
// the golden records it built against the truth.
// errs, when not nil, holds each record's kinds of error: the report then
// tallies recall by them and keeps up to maxLost unlinked true pairs.
func evalLinked(ctx context.Context, cfg Config, typ string, patients []map[string]any, entity []string, errs [][]string, calibrated bool, maxLost int) (linkedReport, error) {
	dir, err := os.MkdirTemp("", "idem-eval-")
	if err != nil {
		return linkedReport{}, err
	}
	defer os.RemoveAll(dir)
	cfg.DB = filepath.Join(dir, "eval.db")
	var rep linkedReport
	ctx = registry.WithActor(ctx, registry.SystemActor("idem eval"))
	err = withStore(ctx, cfg, io.Discard, func(o *opened) error {
		index := map[string]int{} // registry id → record
		start := time.Now()
		svc := o.svc
		if calibrated {
			svc = o.bulk.Unlinked // the calibrated first load's path
		}
		for i, p := range patients {
			out, err := svc.Create(ctx, typ, p, "")
			if err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
			index[out.Resource.ID] = i
		}
		if calibrated {
			if err := o.calib.Loaded(ctx, []string{typ}, true); err != nil {
				return err
			}
		}
		rep.Elapsed = time.Since(start)
		golden := make([]string, len(patients))
		review := map[[2]string]*registry.Link{} // (record, golden) pairs in review
		page, err := o.store.QueryLinks(ctx, registry.LinkFilter{SourceType: typ})
		if err != nil {
			return err
		}
		persons := map[string]bool{}
		for _, k := range page.Links {
			i, ok := index[k.SourceID]
			if !ok {
				continue
			}
			switch k.MatchResult {
			case registry.MatchResultMatch:
				golden[i] = k.Golden()
				persons[k.Golden()] = true
			case registry.MatchResultPossible:
				review[[2]string{k.SourceID, k.Golden()}] = k
				rep.ReviewItems++
			}
		}
		ids := make([]string, len(patients))
		for id, i := range index {
			ids[i] = id
		}
		rep.Records, rep.Persons = len(patients), len(persons)
		reviewLink := func(i, j int) *registry.Link {
			// a record without a golden record (a lone Location: a
			// Linkage needs two items) is put to review as itself
			for _, k := range [][2]string{{ids[i], golden[j]}, {ids[j], golden[i]}, {ids[i], typ + "/" + ids[j]}, {ids[j], typ + "/" + ids[i]}} {
				if l := review[k]; l != nil {
					return l
				}
			}
			return nil
		}
		scorePairs(&rep, entity, golden, func(i, j int) bool { return reviewLink(i, j) != nil })
		if errs != nil {
			rep.Errors = tallyErrors(errs, entity, golden, reviewLink, maxLost)
		}
		return nil
	})
	return rep, err
}

// scorePairs counts linked, true and reviewed pairs: a pair is linked when
// both records have the same golden record.
func scorePairs(rep *linkedReport, entity, golden []string, reviewed func(i, j int) bool) {
	byEntity, byGolden := map[string][]int{}, map[string][]int{}
	for i := range entity {
		byEntity[entity[i]] = append(byEntity[entity[i]], i)
		if golden[i] != "" {
			byGolden[golden[i]] = append(byGolden[golden[i]], i)
		}
	}
	for _, g := range byGolden {
		for a := 0; a < len(g); a++ {
			for b := a + 1; b < len(g); b++ {
				rep.LinkedPairs++
				if entity[g[a]] == entity[g[b]] {
					rep.CorrectPairs++
				} else if len(rep.FalseLinks) < maxFalseLinks {
					rep.FalseLinks = append(rep.FalseLinks, [2]int{g[a], g[b]})
				}
			}
		}
	}
	for _, e := range byEntity {
		for a := 0; a < len(e); a++ {
			for b := a + 1; b < len(e); b++ {
				i, j := e[a], e[b]
				rep.TruePairs++
				switch {
				case golden[i] != "" && golden[i] == golden[j]:
				case reviewed(i, j):
					rep.Review++
				default:
					rep.Missed++
				}
			}
		}
	}
	if rep.LinkedPairs > 0 {
		rep.Precision = float64(rep.CorrectPairs) / float64(rep.LinkedPairs)
	}
	if rep.TruePairs > 0 {
		rep.Recall = float64(rep.CorrectPairs) / float64(rep.TruePairs)
		rep.Left = float64(rep.Review) / float64(rep.TruePairs)
	}
	if rep.Precision+rep.Recall > 0 {
		rep.F1 = 2 * rep.Precision * rep.Recall / (rep.Precision + rep.Recall)
	}
}

// febrlSources spreads FEBRL records over three source systems: originals
// in the first, duplicates alternately in the other two, each record with
// its source URL in meta.source.
func febrlSources(patients []map[string]any) {
	systems := seed.Systems()
	for _, p := range patients {
		id, _ := p["id"].(string)
		sys := 0
		if strings.Contains(id, "dup") {
			sys = 1 + int(id[len(id)-1])%2
		}
		p["meta"] = map[string]any{"source": seed.SourceURL(systems[sys].URI, registry.TypePatient, id)}
	}
}
