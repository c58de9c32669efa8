package linkage

import (
	"context"
	"encoding/json"
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
//
// It returns the members' features it read (nil when it read none), for
// absorb to judge waiting records against without reading them again.
func (l *Linker) fitsCluster(ctx context.Context, ltx registry.Tx, sc *scoring, typ, id string, d *decision, links []*registry.Link) (bool, []*matching.Record, error) {
	if d.eid {
		return true, nil, nil
	}
	members, refs, err := l.memberRecords(ctx, ltx, sc, typ, id, links)
	if err != nil || len(members) < 2 {
		return true, members, err
	}
	p, vetoedBy := sc.model.JudgeCluster(sc.rec, members, sc.tf)
	grade := sc.model.Grade(typ, p)
	if grade == "certain" {
		return true, members, nil
	}
	d.best.Match = &matching.Match{Probability: p, Grade: grade}
	d.cluster, d.vetoedBy = len(members), ""
	if vetoedBy >= 0 {
		d.vetoedBy = refs[vetoedBy]
	}
	return false, members, nil
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

// MaxAbsorb is the most records one link takes into its golden record
// from review (absorb).
const MaxAbsorb = 5

// absorb judges again, against golden's records with the record just
// linked to it (rec; links are golden's MATCH links before it), the
// records that wait alone: those in review as candidates of golden, and
// the sole records of the other golden records the record certainly
// matched (others). A record that arrived first with too little in common
// with golden (a lab's record without a birth date, a married name) may
// be a certain match of the cluster once a record bridging both has
// joined it; such a record moves into golden (AUTO), its golden record of
// one is retired and any duplicate proposal between the two is dropped. A
// record a steward decided about, or whose golden record holds others, is
// left to the steward. members are golden's records' features as
// fitsCluster read them (nil: read here). It returns the golden records it
// retired.
func (l *Linker) absorb(ctx context.Context, ltx registry.Tx, p *plan, sc *scoring, typ, id, golden string, links []*registry.Link, members []*matching.Record, others []*decision) (map[string]bool, error) {
	gt, gid, _ := strings.Cut(golden, "/")
	if gt == registry.TypeLocation {
		return nil, nil
	}
	var waiting []string
	if !p.fresh[golden] {
		review, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: gt, GoldenID: gid, MatchResult: []string{registry.MatchResultPossible}})
		if err != nil {
			return nil, err
		}
		for _, k := range review {
			if k.SourceType == typ && k.SourceID != id && k.LinkSource == registry.LinkSourceAuto {
				waiting = append(waiting, k.SourceID)
			}
		}
	}
	for _, d := range others {
		if d.golden != golden && len(d.members) > 0 {
			if sid := d.best.Resource.ID; sid != id {
				waiting = append(waiting, sid)
			}
		}
	}
	if len(waiting) == 0 {
		return nil, nil
	}
	if members == nil {
		var err error
		if members, _, err = l.memberRecords(ctx, ltx, sc, typ, id, links); err != nil {
			return nil, err
		}
	}
	members = append(members[:len(members):len(members)], sc.rec)
	retired := map[string]bool{}
	tried := map[string]bool{}
	for _, sid := range waiting {
		if len(retired) == MaxAbsorb {
			break
		}
		if tried[sid] {
			continue // in review as golden's candidate and the sole record of another golden record it matched
		}
		tried[sid] = true
		from, rec, err := l.absorbOne(ctx, ltx, p, sc, typ, sid, golden, members)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			retired[from] = true
			members = append(members, rec)
		}
	}
	return retired, nil
}

// absorbOne moves typ/sid into golden when it waits alone and certainly
// matches members together; it returns the golden record it leaves ("Type/id"
// of a Location without one) and its features (nil: not moved).
func (l *Linker) absorbOne(ctx context.Context, ltx registry.Tx, p *plan, sc *scoring, typ, sid, golden string, members []*matching.Record) (string, *matching.Record, error) {
	own, err := ltx.Links(ctx, registry.LinkFilter{SourceType: typ, SourceID: sid})
	if err != nil {
		return "", nil, err
	}
	var match, pending *registry.Link
	for _, k := range own {
		switch {
		case k.LinkSource != registry.LinkSourceAuto:
			return "", nil, nil // a steward decided about it
		case k.MatchResult == registry.MatchResultMatch:
			match = k
		case k.Golden() == golden:
			pending = k
		}
	}
	from := typ + "/" + sid
	if match != nil {
		if from = match.Golden(); from == golden {
			return "", nil, nil
		}
		alone, err := memberLinks(ctx, ltx, from)
		if err != nil || len(alone) != 1 {
			return "", nil, err
		}
	}
	rec, err := l.memberRecord(ctx, ltx, sc, typ, sid)
	if err != nil || rec == nil {
		return "", nil, err
	}
	prob, _ := sc.model.JudgeCluster(rec, members, sc.tf)
	if sc.model.Grade(typ, prob) != "certain" {
		return "", nil, nil
	}
	if pending != nil {
		p.remove(pending)
	}
	if match != nil {
		p.remove(match)
		if err := l.dropDuplicateProposals(ctx, ltx, p, golden, from); err != nil {
			return "", nil, err
		}
	}
	k := &registry.Link{SourceType: typ, SourceID: sid, MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto,
		Score: prob, Grade: "certain", RuleVersion: sc.model.Version}
	k.GoldenType, k.GoldenID, _ = strings.Cut(golden, "/")
	m := sc.model.Explain(rec, sc.rec, sc.tf) // the record that bridged them
	m.Probability, m.Grade = prob, "certain"
	m.Fields = append(m.Fields, matching.Evidence{Field: "cluster", Level: "certain",
		Rule: fmt.Sprintf("judged again against %d records of %s when a record bridging both joined it", len(members), golden)})
	k.Evidence, _ = json.Marshal(m)
	p.put(k)
	return from, rec, nil
}

// memberRecord returns the features of typ/id: as scored when it is a
// candidate, else read and decoded (nil: deleted or gone).
func (l *Linker) memberRecord(ctx context.Context, ltx registry.Tx, sc *scoring, typ, id string) (*matching.Record, error) {
	recs, _, err := l.memberRecords(ctx, ltx, sc, typ, "", []*registry.Link{{SourceType: typ, SourceID: id}})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[0], nil
}

// dropDuplicateProposals removes the POSSIBLE_DUPLICATE links between two
// golden records, stored or put by p: one of them is being retired.
func (l *Linker) dropDuplicateProposals(ctx context.Context, ltx registry.Tx, p *plan, a, b string) error {
	kept := p.puts[:0]
	for _, k := range p.puts {
		if k.MatchResult == registry.MatchResultPossibleDuplicate && (k.Golden() == a && k.Source() == b || k.Golden() == b && k.Source() == a) {
			continue
		}
		kept = append(kept, k)
	}
	p.puts = kept
	at, aid, _ := strings.Cut(a, "/")
	bt, bid, _ := strings.Cut(b, "/")
	for _, f := range []registry.LinkFilter{{GoldenType: at, GoldenID: aid, SourceType: bt, SourceID: bid}, {GoldenType: bt, GoldenID: bid, SourceType: at, SourceID: aid}} {
		known, err := ltx.Links(ctx, f)
		if err != nil {
			return err
		}
		for _, k := range known {
			if k.MatchResult == registry.MatchResultPossibleDuplicate {
				p.remove(k)
			}
		}
	}
	return nil
}
