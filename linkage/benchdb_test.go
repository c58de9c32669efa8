package linkage

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/seed"
)

// fillBenchDB makes path a registry of about n generated Patients (three
// source systems, duplicates included) as linking leaves it, the fastest
// honest way; the linked write path's own rate is measured elsewhere
// (BenchmarkLinkedIngest). Each Patient is stored through the system path
// (registry.Writer) with its blocking keys, term keys and compact features,
// as the store step writes them; the Patients of each generated person
// (the seed's ground truth) get one golden Person built by the
// survivorship rules, as the linker builds it, and an AUTO MATCH link
// each with its op. So the registry holds the links a perfect linker
// would leave, with no POSSIBLE_MATCH links, no scores or evidence on the
// links and no AuditEvents; the model is the default rules, not trained.
// Transactions hold about 2,000 Patients.
func fillBenchDB(b *testing.B, path string, n int) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	model := NewModels(s, matching.DefaultRules(), time.Hour, quiet).Current(ctx)
	w := &registry.Writer{MatchIndex: func(typ string, res map[string]any) registry.MatchIndex {
		if !Matchable(typ) {
			return registry.MatchIndex{}
		}
		rec := matching.Extract(typ, res)
		return registry.MatchIndex{Keys: model.Keys(rec), Record: rec.Encode(), Terms: rec.TermKeys()}
	}}
	l := NewLinker(s, w, nil, LinkerConfig{}, quiet)
	start, stored, report := time.Now(), 0, 100_000
	var batch [][]map[string]any // the Patients of each person
	flush := func() error {
		err := s.Write(ctx, func(tx registry.Tx) error {
			for _, entity := range batch {
				if err := fillPerson(ctx, l, tx, entity); err != nil {
					return err
				}
				stored += len(entity)
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	var entity []map[string]any
	var current string
	pending := 0
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons = 7, n*10/16+1000 // about 1.6 records per person
	full := errors.New("full")
	err = seed.Generate(cfg, func(r seed.Record) error {
		if r.Type != registry.TypePatient {
			return nil
		}
		if r.Entity != current && len(entity) > 0 {
			batch, pending, entity = append(batch, entity), pending+len(entity), nil
			if stored+pending >= n {
				return full
			}
			if pending >= 2000 {
				pending = 0
				if err := flush(); err != nil {
					return err
				}
				if stored >= report {
					b.Logf("stored %d Patients in %v", stored, time.Since(start).Round(time.Second))
					report += 100_000
				}
			}
		}
		current, entity = r.Entity, append(entity, r.Resource)
		return nil
	})
	if err != nil && !errors.Is(err, full) {
		b.Fatal(err)
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d Patients in %v (%.0f/s)", stored, time.Since(start).Round(time.Second), float64(stored)/time.Since(start).Seconds())
}

// fillPerson stores one person's Patients, their golden Person and links.
func fillPerson(ctx context.Context, l *Linker, tx registry.Tx, entity []map[string]any) error {
	golden := l.w.NewResourceID()
	recs := make([]sourceRecord, len(entity))
	links := make([]*registry.Link, len(entity))
	for i, res := range entity {
		id := l.w.NewResourceID()
		out, err := l.w.Create(ctx, tx, registry.TypePatient, id, res)
		if err != nil {
			return err
		}
		recs[i] = sourceRecord{ref: "Patient/" + id, body: res, updated: out.Resource.LastUpdated, trust: l.trust(registry.TypePatient, res)}
		links[i] = &registry.Link{GoldenType: registry.TypePerson, GoldenID: golden, SourceType: registry.TypePatient, SourceID: id,
			MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto, NewGolden: i == 0, Created: out.Resource.LastUpdated, Updated: out.Resource.LastUpdated}
	}
	if _, err := l.w.Create(ctx, tx, registry.TypePerson, golden, l.person(golden, recs, links, nil)); err != nil {
		return err
	}
	for _, k := range links {
		if err := tx.PutLink(ctx, k, &registry.Op{Kind: "link", Actor: "benchmark", At: k.Created}); err != nil {
			return err
		}
	}
	return nil
}

// benchPatients is IDEM_BENCH_PATIENTS, or 0.
func benchPatients() int {
	n, _ := strconv.Atoi(os.Getenv("IDEM_BENCH_PATIENTS"))
	return n
}
