// Package linkage connects the matcher to the registry: it finds candidate
// records by blocking key, scores them with the current model, and (as the
// registry grows) links records to Person and Linkage resources.
package linkage

import (
	"context"
	"log/slog"
	"sort"

	"idem/matching"
	"idem/registry"
)

// Matcher finds and scores the stored records that match a resource.
type Matcher struct {
	store  Store
	models *Models
	tf     *Frequencies
	recs   recordCache
	log    *slog.Logger
}

// NewMatcher returns a Matcher over store using models for the current model.
func NewMatcher(store Store, models *Models, log *slog.Logger) *Matcher {
	return &Matcher{store: store, models: models, tf: NewFrequencies(store), log: log}
}

// MatchOptions are the $match parameters (FHIR Patient-match, IHE ITI-119).
type MatchOptions struct {
	Count       int  // maximum results; 0 for the default
	OnlyCertain bool // only certain matches, and none when they cannot be confirmed to be one entity
}

// DefaultCount and MaxCount bound the results of one $match.
const (
	DefaultCount = 10
	MaxCount     = 100
)

// Candidate is one scored match.
type Candidate struct {
	Resource *registry.Resource
	Match    *matching.Match
	record   *matching.Record // its features, kept for Explain
}

// MatchResult is the answer to one $match.
type MatchResult struct {
	Candidates   []Candidate
	Capped       []string // blocking keys too common to use (reported as a warning)
	Ambiguous    bool     // OnlyCertain found several certain matches it could not confirm as one entity
	Scored       int      // candidates blocking found and the model scored
	Skipped      int      // candidates ranked below the model's MaxCandidates, not scored
	ModelVersion string
}

// Keys returns the blocking keys of a resource with the current model.
func (m *Matcher) Keys(typ string, res map[string]any) []string {
	if !Matchable(typ) {
		return nil
	}
	return m.models.Current(context.Background()).Keys(matching.Extract(typ, res))
}

// Index returns the blocking keys, the compact features and the term keys
// of a resource with the current model; it is the registry's
// Writer.MatchIndex, so they are written with every version.
func (m *Matcher) Index(typ string, res map[string]any) registry.MatchIndex {
	if !Matchable(typ) {
		return registry.MatchIndex{}
	}
	rec := matching.Extract(typ, res)
	terms := rec.TermKeys()
	// The term frequencies of the record's values are counted now, before
	// the write's transaction (Index runs on all cores, off SQLite's single
	// writer), so that scoring inside the writer finds them cached.
	m.tf.warm(context.Background(), typ, terms)
	return registry.MatchIndex{Keys: m.models.Current(context.Background()).Keys(rec), Record: rec.Encode(), Terms: terms}
}

// Matchable reports whether records of typ are matched (Patient, Practitioner, Location).
func Matchable(typ string) bool {
	return typ == registry.TypePatient || typ == registry.TypePractitioner || typ == registry.TypeLocation
}

// Match scores the stored records of typ against res: blocking keys →
// candidates → Fellegi-Sunter score → grade, best first.
func (m *Matcher) Match(ctx context.Context, typ string, res map[string]any, opts MatchOptions) (*MatchResult, error) {
	if !Matchable(typ) {
		return nil, registry.Errorf(registry.ENotFound, "$match is not defined for %s", typ)
	}
	sc, err := m.score(ctx, typ, res, m.store.Candidates)
	if err != nil {
		return nil, err
	}
	out := &MatchResult{Capped: sc.set.Capped, ModelVersion: sc.model.Version, Scored: len(sc.set.Found), Skipped: sc.set.Skipped}
	for _, c := range sc.all {
		if c.Match.Grade != "" {
			out.Candidates = append(out.Candidates, c)
		}
	}
	sameEntity := false
	if opts.OnlyCertain { // only then does it matter whether they are one entity
		if sameEntity, err = m.oneEntity(ctx, out.Candidates); err != nil {
			return nil, err
		}
	}
	out.Candidates = selectResults(out, opts, sameEntity)
	for i, c := range out.Candidates {
		out.Candidates[i].Match = sc.explain(c)
	}
	return out, nil
}

// scoring is one record scored against its blocking candidates.
type scoring struct {
	model *matching.Model
	tf    matching.Frequencies
	rec   *matching.Record
	set   *registry.CandidateSet
	all   []Candidate // every candidate but the record itself, best first; Match holds only probability and grade
}

func (sc *scoring) explain(c Candidate) *matching.Match {
	return sc.model.Explain(sc.rec, c.record, sc.tf)
}

// candidateFinder is MatchStore.Candidates or LinkTx.Candidates.
type candidateFinder func(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error)

// score finds the candidates of res with find and scores each.
func (m *Matcher) score(ctx context.Context, typ string, res map[string]any, find candidateFinder) (*scoring, error) {
	return m.scoreKeyed(ctx, typ, res, nil, nil, find)
}

// scoreKeyed is score with res's features and blocking keys under the
// current model, when known (nil: computed here).
func (m *Matcher) scoreKeyed(ctx context.Context, typ string, res map[string]any, rec *matching.Record, keys []string, find candidateFinder) (*scoring, error) {
	model := m.models.Current(ctx)
	// The prior that two records are one entity falls as the registry grows:
	// restate it for the number of records stored now (cached count; a
	// young registry is scored as if it held the rules' priorMinRecords).
	model = model.ForRegistry(typ, m.tf.total(ctx, typ))
	if rec == nil {
		rec = matching.Extract(typ, res)
	}
	sc := &scoring{model: model, tf: m.tf.For(ctx), rec: rec}
	if keys == nil {
		keys = model.Keys(sc.rec)
	}
	set, err := find(ctx, typ, registry.CandidateQuery{Keys: keys, KeyCap: model.KeyCap(typ), Max: model.MaxCandidates(typ)})
	if err != nil {
		return nil, err
	}
	sc.set = set
	self := registry.AsString(res["id"])
	for i, r := range set.Found {
		if self != "" && r.ID == self {
			continue
		}
		cand := m.recs.get(r)
		if cand == nil {
			if d, ok := decodedAt(set, i); ok {
				cand = d // decoded beside the writer (Prepare)
			} else if cand, err = candidateRecord(typ, r, set.Records[i]); err != nil {
				return nil, err
			}
			m.recs.put(r, cand)
		}
		p := model.Score(sc.rec, cand, sc.tf)
		sc.all = append(sc.all, Candidate{Resource: r, Match: &matching.Match{Probability: p, Grade: model.Grade(typ, p)}, record: cand})
	}
	sort.SliceStable(sc.all, func(i, j int) bool {
		return sc.all[i].Match.Probability > sc.all[j].Match.Probability
	})
	return sc, nil
}

// decodedAt returns the i-th candidate's features as the store decoded
// them with the query's Decode, if it did.
func decodedAt(set *registry.CandidateSet, i int) (*matching.Record, bool) {
	if i >= len(set.Decoded) {
		return nil, false
	}
	rec, ok := set.Decoded[i].(*matching.Record)
	return rec, ok && rec != nil
}

// candidateRecord returns a candidate's features: decoded from the compact
// form stored beside it, or extracted from its JSON when it has none
// (stored before idem kept them, or the form is unreadable).
func candidateRecord(typ string, r *registry.Resource, stored []byte) (*matching.Record, error) {
	if stored != nil {
		if rec, err := matching.DecodeRecord(stored); err == nil {
			return rec, nil
		}
	}
	body, err := registry.DecodeStored(r)
	if err != nil {
		return nil, err
	}
	return matching.Extract(typ, body), nil
}

// oneEntity reports whether the certain candidates are all linked (MATCH)
// to one golden record, so they are known to be one entity.
func (m *Matcher) oneEntity(ctx context.Context, cands []Candidate) (bool, error) {
	ls := m.store
	golden := ""
	n := 0
	for _, c := range cands {
		if c.Match.Grade != "certain" {
			continue
		}
		n++
		page, err := ls.QueryLinks(ctx, registry.LinkFilter{SourceType: c.Resource.Type, SourceID: c.Resource.ID, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			return false, err
		}
		if len(page.Links) == 0 || (golden != "" && page.Links[0].Golden() != golden) {
			return false, nil
		}
		golden = page.Links[0].Golden()
	}
	return n > 1, nil
}

// selectResults applies onlyCertainMatches and count as ITI-119 describes:
// with onlyCertainMatches a single certain match is returned, and several
// certain matches only when they are known to be the same entity (cases 3-5);
// count keeps the best results (case 6).
func selectResults(r *MatchResult, opts MatchOptions, sameEntity bool) []Candidate {
	list := r.Candidates
	if opts.OnlyCertain {
		var certain []Candidate
		for _, c := range list {
			if c.Match.Grade == "certain" {
				certain = append(certain, c)
			}
		}
		list = certain
		if len(list) > 1 && !sameEntity {
			// Several certain matches that are not linked to one golden
			// record may be different people: answer none (case 5).
			r.Ambiguous = true
			list = nil
		}
	}
	limit := opts.Count
	if limit <= 0 {
		limit = DefaultCount
	}
	if len(list) > min(limit, MaxCount) {
		list = list[:min(limit, MaxCount)]
	}
	return list
}
