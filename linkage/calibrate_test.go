package linkage

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"idem/matching"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
	"idem/seed"
)

// calibrated is a linked registry with its calibration.
type calibrated struct {
	*linked
	models *Models
	cal    *Calibrator
}

func openCalibrated(t *testing.T, s *sqlstore.Store, cfg CalibrateConfig) *calibrated {
	t.Helper()
	models := NewModels(s, matching.DefaultRules(), time.Hour, quiet)
	m := NewMatcher(s, models, quiet)
	w := &registry.Writer{MatchIndex: m.Index}
	l := NewLinker(s, w, m, LinkerConfig{}, quiet)
	svc := &registry.Service{Store: s, Writer: w, Steps: registry.Steps{Link: l}}
	if cfg.MinRecords == 0 {
		cfg.MinRecords = 50
	}
	return &calibrated{linked: &linked{s: s, svc: svc, l: l}, models: models, cal: NewCalibrator(l, models, cfg, quiet)}
}

// generatedPatients returns the Patients of a generated network.
func generatedPatients(t *testing.T, persons int, profile string) ([]map[string]any, []string) {
	t.Helper()
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Profile = 5, persons, profile
	var recs []map[string]any
	var truth []string
	err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type == registry.TypePatient {
			recs = append(recs, r.Resource)
			truth = append(truth, r.Entity)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, truth
}

// loadBundles stores recs with transaction Bundles through svc.
func loadBundles(t *testing.T, ctx context.Context, svc *registry.Service, recs []map[string]any) {
	t.Helper()
	for start := 0; start < len(recs); start += 100 {
		var entries []any
		for _, r := range recs[start:min(start+100, len(recs))] {
			entries = append(entries, map[string]any{"resource": clone(r), "request": map[string]any{"method": "POST", "url": "Patient"}})
		}
		if _, err := svc.Bundle(ctx, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}, registry.BundleOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// linkRows is every link of the Patients, as "source → golden result source".
func linkRows(t *testing.T, s *sqlstore.Store) []string {
	t.Helper()
	page, err := s.QueryLinks(context.Background(), registry.LinkFilter{SourceType: registry.TypePatient})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range page.Links {
		out = append(out, fmt.Sprintf("%s → %s %s %s", k.Source(), k.Golden(), k.MatchResult, k.LinkSource))
	}
	sort.Strings(out)
	return out
}

// manualState is the steward's links among state.
func manualState(state []string) []string {
	var out []string
	for _, l := range state {
		if strings.HasSuffix(l, " MANUAL") {
			out = append(out, l)
		}
	}
	return out
}

// goldenOf returns each Patient's MATCH golden record and review candidates.
func goldenOf(t *testing.T, s *sqlstore.Store) (map[string]string, map[string][]string) {
	t.Helper()
	page, err := s.QueryLinks(context.Background(), registry.LinkFilter{SourceType: registry.TypePatient})
	if err != nil {
		t.Fatal(err)
	}
	match, review := map[string]string{}, map[string][]string{}
	for _, k := range page.Links {
		switch k.MatchResult {
		case registry.MatchResultMatch:
			match[k.Source()] = k.Golden()
		case registry.MatchResultPossible:
			review[k.Source()] = append(review[k.Source()], k.Golden())
		}
	}
	for _, v := range review {
		slices.Sort(v)
	}
	return match, review
}

// The whole self-calibration cycle on generated data, on SQLite and
// PostgreSQL: load with the default model, steward decisions, train a
// candidate (not used for linking), dry run, apply (exactly the changes
// the dry run listed), roll back (every link as before), and the
// steward's MANUAL links and NO_MATCH kept throughout.
func TestCalibrationCycle(t *testing.T) {
	recs, _ := generatedPatients(t, 120, seed.ProfileMany)
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openCalibrated(t, s, CalibrateConfig{})
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		loadBundles(t, ctx, k.svc, recs)
		// A steward's decisions: one record moved by hand, one NO_MATCH.
		match, _ := goldenOf(t, s)
		srcs := slices.Sorted(maps.Keys(match))
		steward := registry.WithActor(context.Background(), registry.Actor{Kind: "user", Name: "steward1"})
		if _, err := k.l.SetLink(steward, match[srcs[1]], srcs[0], registry.MatchResultMatch, false); err != nil {
			t.Fatal(err)
		}
		if _, err := k.l.SetLink(steward, match[srcs[3]], srcs[2], registry.MatchResultNoMatch, false); err != nil {
			t.Fatal(err)
		}
		// The registry in its model's own state, steward decisions included:
		// a re-match under the model in use (as a rollback to it gives).
		before := linkRows(t, s)
		if err := k.cal.LinkAll(ctx, registry.TypePatient); err != nil {
			t.Fatal(err)
		}
		t.Logf("re-matching the live-linked registry under its own model changed %d of %d links", len(diffLines(before, linkRows(t, s))), len(before))

		s0 := linkRows(t, s)
		manual := manualState(s0)
		if len(manual) < 2 || !slices.ContainsFunc(manual, func(l string) bool { return strings.Contains(l, " NO_MATCH ") }) {
			t.Fatalf("steward links: %v", manual)
		}

		cand, err := k.cal.Train(ctx, registry.TypePatient, "test")
		if err != nil {
			t.Fatal(err)
		}
		if cand.State != registry.ModelCandidate {
			t.Fatalf("trained model is %s, want a candidate", cand.State)
		}
		if v := k.models.Current(ctx).Version; v != k.models.Fallback().Version {
			t.Fatalf("a candidate is in use for linking: %s", v)
		}
		dry, err := k.cal.DryRun(ctx, cand.Version)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(linkRows(t, s), s0) {
			t.Fatal("the dry run changed links")
		}
		if len(dry) != 1 || dry[0].Type != registry.TypePatient || dry[0].Changed() == 0 {
			t.Fatalf("dry run: %v", dry)
		}
		t.Logf("dry run of model %d: %d records, %d changed %v", cand.Version, dry[0].Records, dry[0].Changed(), dry[0].Counts)
		_, rep, err := k.cal.Model(ctx, cand.Version)
		if err != nil || !rep.DryRun || len(rep.Rematch) != 1 || rep.Rematch[0].Changed != dry[0].Changed() || rep.Training == nil {
			t.Fatalf("stored report %+v %v", rep, err)
		}

		match0, review0 := goldenOf(t, s)
		applied, err := k.cal.Apply(steward, cand.Version)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 1 || !slices.EqualFunc(applied[0].Changes, dry[0].Changes, sameChange) {
			t.Fatalf("apply planned other changes than the dry run listed")
		}
		match1, review1 := goldenOf(t, s)
		checkChanges(t, dry[0], match0, review0, match1, review1)
		s1 := linkRows(t, s)
		if !slices.Equal(manualState(s1), manual) {
			t.Fatalf("steward links changed by apply: %v, want %v", manualState(s1), manual)
		}
		if v := k.models.Current(ctx).Version; v == k.models.Fallback().Version {
			t.Fatal("the applied model is not in use")
		}
		again, err := k.l.PlanRematch(ctx, registry.TypePatient, k.models.Current(ctx))
		if err != nil || again.Changed() != 0 {
			t.Fatalf("re-matching again under the applied model would change %d records (%v)", again.Changed(), err)
		}

		back, _, err := k.cal.Rollback(steward)
		if err != nil {
			t.Fatal(err)
		}
		if back == cand.Version {
			t.Fatal("rolled back to the candidate")
		}
		if s2 := linkRows(t, s); !slices.Equal(s2, s0) {
			t.Fatalf("after rollback %d links differ from before the apply: %v", len(diffLines(s0, s2)), diffLines(s0, s2)[:min(6, len(diffLines(s0, s2)))])
		}
		if v := k.models.Current(ctx).Version; v != k.models.Fallback().Version {
			t.Fatalf("after rollback the model in use is %s", v)
		}
		for _, kind := range []string{"model-apply", "model-rollback"} {
			if n := auditEvents(t, s, kind, "steward1"); n != 1 {
				t.Errorf("%d AuditEvents of %s by the steward, want 1", n, kind)
			}
		}
	})
}

func sameChange(a, b ModelChange) bool {
	return a.Source == b.Source && a.Kind == b.Kind && a.From == b.From && a.To == b.To &&
		slices.Equal(a.Review, b.Review) && slices.Equal(a.Dropped, b.Dropped)
}

// checkChanges checks that the links went from (match0, review0) to
// (match1, review1) exactly as r lists, and nothing else changed.
func checkChanges(t *testing.T, r *Rematch, match0 map[string]string, review0 map[string][]string, match1 map[string]string, review1 map[string][]string) {
	t.Helper()
	listed := map[string]ModelChange{}
	for _, c := range r.Changes {
		listed[c.Source] = c
	}
	goldens0 := map[string]bool{}
	for _, g := range match0 {
		goldens0[g] = true
	}
	for _, src := range slices.Sorted(maps.Keys(listed)) {
		c := listed[src]
		switch {
		case c.Kind == "" && match1[src] != match0[src]:
			t.Errorf("%s moved from %s to %s, not listed", src, match0[src], match1[src])
		case c.Kind != "" && c.To == "new" && goldens0[match1[src]]:
			t.Errorf("%s: listed to a new golden record, went to %s", src, match1[src])
		case c.Kind != "" && c.To != "new" && match1[src] != c.To:
			t.Errorf("%s: listed to %q, went to %s", src, c.To, match1[src])
		}
	}
	for src := range match1 {
		if _, ok := listed[src]; !ok && match1[src] != match0[src] {
			t.Errorf("%s moved from %s to %s, not listed", src, match0[src], match1[src])
		}
	}
	for src := range match0 {
		if _, ok := listed[src]; !ok && match1[src] != match0[src] {
			t.Errorf("%s left %s, not listed", src, match0[src])
		}
	}
	for _, src := range slices.Sorted(maps.Keys(review1)) {
		if _, ok := listed[src]; !ok && !slices.Equal(review0[src], review1[src]) {
			t.Errorf("%s review %v → %v, not listed", src, review0[src], review1[src])
		}
	}
	for src, c := range listed {
		for _, g := range c.Dropped {
			if slices.Contains(review1[src], g) {
				t.Errorf("%s: listed out of review of %s, still there", src, g)
			}
		}
		added := 0
		for _, g := range review1[src] {
			if !slices.Contains(review0[src], g) {
				added++
			}
		}
		if added != len(c.Review) {
			t.Errorf("%s: %d review links listed as new, %d added", src, len(c.Review), added)
		}
	}
}

func diffLines(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, "- "+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, "+ "+x)
		}
	}
	return out
}

// auditEvents counts the AuditEvents of subtype kind whose agent is who.
func auditEvents(t *testing.T, s *sqlstore.Store, kind, who string) int {
	t.Helper()
	q := &registry.Query{Type: registry.TypeAuditEvent, Count: 1000, NoTotal: true}
	n := 0
	for {
		res, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Matches {
			if body := string(mustBody(t, r)); strings.Contains(body, `"`+kind+`"`) && strings.Contains(body, who) {
				n++
			}
		}
		if res.Next == "" {
			return n
		}
		q.Page = res.Next
	}
}

func mustBody(t *testing.T, r *registry.Resource) []byte {
	t.Helper()
	body, err := registry.DecodeStored(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Training that does not converge is kept as a failed model with its
// report: never a candidate, never applied.
func TestTrainingNotConvergedFails(t *testing.T) {
	recs, _ := generatedPatients(t, 60, "")
	s, err := sqlstore.Open(context.Background(), t.TempDir()+"/idem.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := openCalibrated(t, s, CalibrateConfig{Train: matching.TrainOptions{MaxIterations: 1}})
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	loadBundles(t, ctx, k.svc, recs)
	sm, err := k.cal.Train(ctx, registry.TypePatient, "one iteration")
	if registry.ErrorCode(err) != registry.EUnprocessable || sm == nil || sm.State != registry.ModelFailed {
		t.Fatalf("training: %+v %v", sm, err)
	}
	_, rep, err := k.cal.Model(ctx, sm.Version)
	if err != nil || !strings.Contains(rep.Error, "did not converge") || rep.Training == nil || rep.Training.Converged {
		t.Fatalf("failed model's report: %+v %v", rep, err)
	}
	if _, err := k.cal.Apply(ctx, sm.Version); registry.ErrorCode(err) != registry.EConflict {
		t.Fatalf("applying a failed model: %v", err)
	}
	if _, err := s.CurrentModel(ctx); registry.ErrorCode(err) != registry.ENotFound {
		t.Fatalf("a model is in use: %v", err)
	}
}

// Locations stored unlinked and linked by a re-match end in Linkages of
// two or more, as linking on write builds them.
func TestRematchLinksUnlinkedLocations(t *testing.T) {
	cfg := seed.DefaultConfig()
	cfg.Seed, cfg.Persons, cfg.Practitioners, cfg.Locations = 9, 0, 0, 60
	var locs []map[string]any
	if err := seed.Generate(cfg, func(r seed.Record) error {
		if r.Type == registry.TypeLocation {
			locs = append(locs, r.Resource)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	groups := func(deferred bool) int {
		s, err := sqlstore.Open(ctx, t.TempDir()+"/idem.db")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		k := openCalibrated(t, s, CalibrateConfig{})
		svc := k.svc
		if deferred {
			svc = &registry.Service{Store: s, Writer: k.svc.Writer, Steps: registry.Steps{Link: k.l.Deferred()}}
		}
		for _, r := range locs {
			if _, err := svc.Create(ctx, registry.TypeLocation, clone(r), ""); err != nil {
				t.Fatal(err)
			}
		}
		if deferred {
			if err := k.cal.LinkAll(ctx, registry.TypeLocation); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.QueryLinks(ctx, registry.LinkFilter{SourceType: registry.TypeLocation, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, l := range page.Links {
			n[l.Golden()]++
		}
		for g, c := range n {
			if c < 2 {
				t.Fatalf("%s holds %d Location", g, c)
			}
		}
		return len(n)
	}
	live, rematched := groups(false), groups(true)
	if live == 0 || live != rematched {
		t.Fatalf("Linkages: %d linked on write, %d by a re-match", live, rematched)
	}
}

// TestGrowthWaitsForALoadToEnd: a type that grew past the retraining share
// is trained only once a check finds it no longer growing, not while
// records stream in.
func TestGrowthWaitsForALoadToEnd(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
		c := openCalibrated(t, s, CalibrateConfig{AutoTrain: true})
		recs, _ := generatedPatients(t, 60, "")
		half := len(recs) / 2
		loadBundles(t, ctx, c.svc, recs[:half])
		check := func(want int) {
			t.Helper()
			got, err := c.cal.CheckGrowth(ctx)
			if err != nil || len(got) != want {
				t.Fatalf("CheckGrowth trained %v (err %v), want %d models", got, err, want)
			}
		}
		check(0) // first look: nothing known of the growth yet
		loadBundles(t, ctx, c.svc, recs[half:])
		check(0) // still loading
		check(1) // the load ended
		check(0) // trained for this size
	})
}

// Records stored unlinked after others were linked (a bulk load whose
// linking waited) are linked by LinkUnlinked exactly as if they had been
// written live after the others, under the same model: the same golden
// records and review links. Only they are simulated; the records linked
// before keep their links.
func TestLinkUnlinkedAsIfLive(t *testing.T) {
	recs, _ := generatedPatients(t, 150, "")
	// shuffled, so that most entities have records in both halves
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	half := len(recs) / 2
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	create := func(t *testing.T, svc *registry.Service, recs []map[string]any) {
		for _, r := range recs {
			if _, err := svc.Create(ctx, registry.TypePatient, clone(r), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// state is each Patient's golden record and review candidates, named
	// by the first meta.source of their records, so two registries compare.
	state := func(t *testing.T, s *sqlstore.Store) []string {
		match, review := goldenOf(t, s)
		source := func(ref string) string {
			typ, id, _ := strings.Cut(ref, "/")
			r, err := s.Read(ctx, typ, id)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := registry.DecodeStored(r)
			return registry.AsString(registry.AsObject(body["meta"])["source"])
		}
		name := map[string]string{} // golden ref → its first member's source
		for _, src := range slices.Sorted(maps.Keys(match)) {
			if g := match[src]; name[g] == "" || source(src) < name[g] {
				name[g] = source(src)
			}
		}
		var out []string
		for src, g := range match {
			line := source(src) + " → " + name[g]
			for _, rg := range review[src] {
				line += " ?" + name[rg]
			}
			out = append(out, line)
		}
		slices.Sort(out)
		return out
	}
	s0, err := sqlstore.Open(ctx, t.TempDir()+"/live.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Close()
	live := openCalibrated(t, s0, CalibrateConfig{})
	create(t, live.svc, recs)
	want := state(t, s0)

	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		k := openCalibrated(t, s, CalibrateConfig{})
		create(t, k.svc, recs[:half])
		before := linkRows(t, s)
		create(t, &registry.Service{Store: s, Writer: k.svc.Writer, Steps: registry.Steps{Link: k.l.Deferred()}}, recs[half:])
		r, err := k.l.PlanLinkUnlinked(ctx, registry.TypePatient, k.models.Current(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if r.Records != len(recs)-half {
			t.Errorf("simulated %d records, want the %d unlinked", r.Records, len(recs)-half)
		}
		if err := k.cal.LinkUnlinked(ctx, registry.TypePatient); err != nil {
			t.Fatal(err)
		}
		if got := state(t, s); !slices.Equal(got, want) {
			t.Errorf("linked after: %d rows, live: %d; first differences: %v", len(got), len(want), firstDiff(got, want))
		}
		// the records linked before are where they were, unless a later
		// record's match merged golden records (then live linking moved them too)
		after := linkRows(t, s)
		kept := 0
		for _, l := range before {
			if slices.Contains(after, l) {
				kept++
			}
		}
		t.Logf("%d of %d links of the first half kept", kept, len(before))
		again, err := k.l.PlanLinkUnlinked(ctx, registry.TypePatient, k.models.Current(ctx))
		if err != nil || again.Records != 0 || again.Changed() != 0 {
			t.Fatalf("nothing left to link, yet: %d records, %d changes, %v", again.Records, again.Changed(), err)
		}
	})
}

// firstDiff returns up to five lines of a not in b and of b not in a.
func firstDiff(a, b []string) []string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) && len(out) < 5 {
			out = append(out, "+"+l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) && len(out) < 10 {
			out = append(out, "-"+l)
		}
	}
	return out
}

// Training reads a sample spread over the registry: loaded source after
// source, every source is in it (the first Sample records would be the
// first source's only). The model keeps the registry's size, not the
// sample's, as the base growth is measured from: it is not due again
// right after training.
func TestTrainingSampleSpansTheRegistry(t *testing.T) {
	recs, _ := generatedPatients(t, 150, "")
	system := func(r map[string]any) string {
		ids := registry.AsList(r["identifier"])
		if len(ids) == 0 {
			return ""
		}
		return registry.AsString(registry.AsObject(ids[0])["system"])
	}
	slices.SortStableFunc(recs, func(a, b map[string]any) int { return strings.Compare(system(a), system(b)) })
	systems := map[string]bool{}
	for _, r := range recs {
		systems[system(r)] = true
	}
	ctx := registry.WithActor(context.Background(), registry.SystemActor("test"))
	s, err := sqlstore.Open(ctx, t.TempDir()+"/idem.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := openCalibrated(t, s, CalibrateConfig{Sample: 60})
	create := &registry.Service{Store: s, Writer: k.svc.Writer, Steps: registry.Steps{Link: k.l.Deferred()}}
	for _, r := range recs {
		if _, err := create.Create(ctx, registry.TypePatient, clone(r), ""); err != nil {
			t.Fatal(err)
		}
	}
	sample, err := k.cal.records(ctx, registry.TypePatient)
	if err != nil || len(sample) != 60 {
		t.Fatalf("sampled %d records (%v), want 60", len(sample), err)
	}
	got := map[string]bool{}
	for _, rec := range sample {
		for _, id := range rec.Identifiers() {
			if systems[id[0]] {
				got[id[0]] = true
			}
		}
	}
	if len(got) != len(systems) || len(systems) < 3 {
		t.Errorf("the sample holds identifiers of %d of the %d sources' systems", len(got), len(systems))
	}
	sm, err := k.cal.Train(ctx, registry.TypePatient, "test")
	if err != nil {
		t.Fatal(err)
	}
	if sm.Records != len(recs) {
		t.Errorf("the model says %d records were stored when it was trained, want %d", sm.Records, len(recs))
	}
	if due, err := k.cal.due(ctx, registry.TypePatient, len(recs)); err != nil || due {
		t.Errorf("due right after training: %v %v", due, err)
	}
}
