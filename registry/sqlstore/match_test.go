package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// familyKeys is a stand-in blocking function: one key per family name,
// and one term key.
func familyKeys(typ string, res map[string]any) registry.MatchIndex {
	var keys, terms []string
	for _, n := range res["name"].([]any) {
		keys = append(keys, "fam:"+registry.Fold(n.(map[string]any)["family"].(string)))
		terms = append(terms, "tf:"+keys[len(keys)-1])
	}
	return registry.MatchIndex{Keys: keys, Record: []byte(strings.Join(keys, ",")), Terms: terms}
}

var errRollback = errors.New("roll back")

func TestCandidatesAndCaps(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: familyKeys}}
		a := mustCreate(t, svc, patientJSON("Zbigniew", "A", "1990-01-01", "1")).ID
		for i := 0; i < 5; i++ {
			mustCreate(t, svc, patientJSON("Smith", "S", "1990-01-01", fmt.Sprint(10+i)))
		}
		set, err := s.Candidates(ctx, "Patient", registry.CandidateQuery{Keys: []string{"fam:zbigniew", "fam:smith", "fam:none"}, KeyCap: 3, Max: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(set.Found); !slices.Equal(got, []string{a}) || !slices.Equal(set.Capped, []string{"fam:smith"}) {
			t.Fatalf("candidates %v capped %v", got, set.Capped)
		}
		// Ranked: the record sharing the rarer key and more keys comes first,
		// and Max keeps only the best.
		set, err = s.Candidates(ctx, "Patient", registry.CandidateQuery{Keys: []string{"fam:zbigniew", "fam:smith", "given:a"}, KeyCap: 10, Max: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(set.Found); !slices.Equal(got, []string{a}) || set.Skipped != 5 {
			t.Fatalf("best candidate %v, skipped %d; want %s and 5 skipped", got, set.Skipped, a)
		}
		if string(set.Records[0]) != "fam:zbigniew" {
			t.Fatalf("stored features %q, want the MatchIndex record", set.Records[0])
		}
		// Inside a write, the transaction's own unflushed writes are
		// candidates (with their features), read back, and replaced by a
		// second version in the same transaction.
		err = s.Write(ctx, func(tx registry.Tx) error {
			out, err := svc.CreateTx(ctx, tx, "Patient", "in-tx", mustDecode(t, patientJSON("Zbigniew", "B", "1991-01-01", "2")), "")
			if err != nil {
				return err
			}
			set, err := tx.(registry.Tx).Candidates(ctx, "Patient", registry.CandidateQuery{Keys: []string{"fam:zbigniew"}, KeyCap: 10, Max: 10})
			if err != nil {
				return err
			}
			if got := ids(set.Found); !slices.Contains(got, "in-tx") || len(got) != 2 || string(set.Records[slices.Index(got, "in-tx")]) != "fam:zbigniew" {
				t.Errorf("in-transaction candidates %v records %q", got, set.Records)
			}
			m := mustDecode(t, string(out.Resource.Body))
			m["name"] = []any{map[string]any{"family": "Other"}}
			if _, err := svc.UpdateTx(ctx, tx, "Patient", "in-tx", m, 0); err != nil {
				return err
			}
			r, err := tx.Read(ctx, "Patient", "in-tx")
			if err != nil || r.VersionID != 2 {
				t.Errorf("read in transaction: %v, %v", r, err)
			}
			set, err = tx.(registry.Tx).Candidates(ctx, "Patient", registry.CandidateQuery{Keys: []string{"fam:zbigniew"}, KeyCap: 10, Max: 10})
			if err != nil {
				return err
			}
			if got := ids(set.Found); slices.Contains(got, "in-tx") {
				t.Errorf("replaced keys still find the record: %v", got)
			}
			return errRollback // leave the database as it was
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		// Keys follow updates and deletes.
		r, _ := svc.Read(ctx, "Patient", a)
		m := mustDecode(t, string(r.Body))
		m["name"] = []any{map[string]any{"family": "Quux"}}
		if _, err := svc.Update(ctx, "Patient", a, m, 0); err != nil {
			t.Fatal(err)
		}
		if found := candidates(t, s, "fam:zbigniew"); len(found) != 0 {
			t.Fatalf("stale key still finds %v", ids(found))
		}
		if _, err := svc.Delete(ctx, "Patient", a); err != nil {
			t.Fatal(err)
		}
		if found := candidates(t, s, "fam:quux"); len(found) != 0 {
			t.Fatalf("deleted resource is a candidate")
		}
		rekeyed := registry.MatchIndex{Keys: []string{"fam:rekeyed"}, Record: []byte("fam:rekeyed"), Terms: []string{"tf:fam:rekeyed"}}
		if err := s.SetMatchIndex(ctx, "Patient", map[string]registry.MatchIndex{mustSmith(t, svc): rekeyed, "gone": rekeyed}); err != nil {
			t.Fatal(err)
		}
		if found := candidates(t, s, "fam:rekeyed"); len(found) != 1 {
			t.Fatalf("re-keyed resource not found: %v", ids(found))
		}
		// Term counts follow writes, re-keying and deletes.
		counts, err := s.CountTerms(ctx, []string{"tf:fam:rekeyed", "tf:fam:smith", "tf:fam:quux", "tf:fam:zbigniew", "nobody"})
		total, terr := s.CountResources(ctx, "Patient")
		want := map[string]int{"tf:fam:rekeyed": 1, "tf:fam:smith": 4}
		if err != nil || terr != nil || !maps.Equal(counts, want) || total != 5 {
			t.Fatalf("counts %v total %d err %v", counts, total, err)
		}
	})
}

func TestModelVersions(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		_, err := s.LatestModel(ctx)
		wantCode(t, err, registry.ENotFound)
		for i := 1; i <= 2; i++ {
			v, err := s.SaveModel(ctx, &registry.StoredModel{Created: time.Now(), Note: fmt.Sprint("run ", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
			if err != nil || v != int64(i) {
				t.Fatalf("save %d: version %d err %v", i, v, err)
			}
		}
		m, err := s.LatestModel(ctx)
		if err != nil || m.Version != 2 || string(m.Body) != `{"n":2}` || m.Note != "run 2" {
			t.Fatalf("latest: %+v %v", m, err)
		}
	})
}

// Keys are written for Bundle entries too (computed before the transaction).
func TestBundleEntriesGetKeys(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		svc := &registry.Service{Store: s, Writer: &registry.Writer{MatchIndex: familyKeys}}
		b := mustDecode(t, `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":`+patientJSON("Keyed", "A", "1990-01-01", "k1")+`,"request":{"method":"POST","url":"Patient"}},
			{"resource":{"resourceType":"Patient","id":"p2","name":[{"family":"Keyed"}]},"request":{"method":"PUT","url":"Patient/p2"}}]}`)
		if _, err := svc.Bundle(context.Background(), b, registry.BundleOptions{}); err != nil {
			t.Fatal(err)
		}
		if found := candidates(t, s, "fam:keyed"); len(found) != 2 {
			t.Fatalf("found %d candidates", len(found))
		}
	})
}

func mustSmith(t *testing.T, svc *registry.Service) string {
	res := search(t, svc, "Patient", "family=smith&_count=1")
	if len(res.Matches) != 1 {
		t.Fatal("no Smith")
	}
	return res.Matches[0].ID
}

// candidates returns the resources sharing key, with a cap of 3.
func candidates(t *testing.T, s *sqlstore.Store, key string) []*registry.Resource {
	t.Helper()
	set, err := s.Candidates(context.Background(), "Patient", registry.CandidateQuery{Keys: []string{key}, KeyCap: 3, Max: 100})
	if err != nil {
		t.Fatal(err)
	}
	return set.Found
}
