package linkage

import (
	"context"
	"fmt"
	"strings"

	"idem/matching"
	"idem/registry"
)

// memberLinks returns the MATCH links of golden (none for a Location
// without a Linkage: it is a record, not a golden record).
func memberLinks(ctx context.Context, ltx registry.Tx, golden string) ([]*registry.Link, error) {
	gt, gid, ok := strings.Cut(golden, "/")
	if !ok || gt == registry.TypeLocation {
		return nil, nil
	}
	return ltx.Links(ctx, registry.LinkFilter{GoldenType: gt, GoldenID: gid, MatchResult: []string{registry.MatchResultMatch}})
}

// fitsCluster judges a record that certainly matches a record of d's
// golden record against all the golden record's records (links, its MATCH
// links): joining it links the record to each of them. It fits when the
// cluster, weighed as one comparison (matching.Model.JudgeCluster), is a
// certain match too and no member vetoes it. When it does not, d's match
// becomes the cluster's, for the review queue. A golden record of one
// record other than this one is judged by that pair alone, as it was; a
// shared enterprise identifier links regardless.
//
// On generated Locations with many records per site, the false links were
// pairs scoring 0.02–0.20 joined through a third record with less in it:
// a branch's name and organisation without an address matched two branches
// of one chain, and the second joined the first's Linkage.
func (l *Linker) fitsCluster(ctx context.Context, ltx registry.Tx, sc *scoring, typ, id string, d *decision, links []*registry.Link) (bool, error) {
	if d.eid {
		return true, nil
	}
	members, refs, err := l.memberRecords(ctx, ltx, sc, typ, id, links)
	if err != nil || len(members) < 2 {
		return true, err
	}
	p, vetoedBy := sc.model.JudgeCluster(sc.rec, members, sc.tf)
	grade := sc.model.Grade(typ, p)
	if grade == "certain" {
		return true, nil
	}
	d.best.Match = &matching.Match{Probability: p, Grade: grade}
	d.cluster, d.vetoedBy = len(members), ""
	if vetoedBy >= 0 {
		d.vetoedBy = refs[vetoedBy]
	}
	return false, nil
}

// memberRecords returns the features of the records links point to, other
// than typ/id itself, with their references: a candidate's as scored, any
// other's read and decoded (cached by version, as candidates are).
func (l *Linker) memberRecords(ctx context.Context, ltx registry.Tx, sc *scoring, typ, id string, links []*registry.Link) ([]*matching.Record, []string, error) {
	scored := make(map[string]*matching.Record, len(sc.all))
	for _, c := range sc.all {
		scored[c.Resource.ID] = c.record
	}
	var recs []*matching.Record
	var refs []string
	for _, k := range links {
		if k.SourceType != typ || k.SourceID == id {
			continue
		}
		rec := scored[k.SourceID]
		if rec == nil {
			r, err := ltx.Read(ctx, typ, k.SourceID)
			switch {
			case registry.ErrorCode(err) == registry.ENotFound:
				continue
			case err != nil:
				return nil, nil, err
			case r.Deleted:
				continue
			}
			if rec = l.matcher.recs.get(r); rec == nil {
				if rec, err = candidateRecord(typ, r, nil); err != nil {
					return nil, nil, err
				}
				l.matcher.recs.put(r, rec)
			}
		}
		recs = append(recs, rec)
		refs = append(refs, k.Source())
	}
	return recs, refs, nil
}

// clusterEvidence is the evidence line of a match judged against a
// cluster of n records of golden.
func clusterEvidence(d *decision, grade string) matching.Evidence {
	rule := fmt.Sprintf("judged against %d records of %s, each field by its best agreement", d.cluster, d.golden)
	if d.vetoedBy != "" {
		rule += "; a veto field disagrees with " + d.vetoedBy
	}
	return matching.Evidence{Field: "cluster", Level: grade, Rule: rule}
}
