package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the idem command line as a user would, against IDEM_DB=db.
func run(t *testing.T, db string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "IDEM_DB" {
			return db
		}
		return ""
	}
	if code := Main(context.Background(), args, env, &out, &errOut); code != 0 {
		t.Fatalf("idem %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

func TestSeedTrainReindexCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "idem.db")
	run(t, db, "seed", "--out", filepath.Join(dir, "nd"), "--persons", "50", "--practitioners", "5", "--locations", "3")
	for _, f := range []string{"Patient.ndjson", "Practitioner.ndjson", "Location.ndjson", "truth.csv"} {
		if st, err := os.Stat(filepath.Join(dir, "nd", f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	if out := run(t, db, "seed", "--load", "--persons", "300", "--practitioners", "10", "--locations", "5"); !strings.Contains(out, "loaded") {
		t.Fatalf("seed --load: %s", out)
	}
	if out := run(t, db, "match", "train", "--type", "Patient"); !strings.Contains(out, "candidate model 1") || !strings.Contains(out, "converged true") {
		t.Fatalf("match train: %s", out)
	}
	if out := run(t, db, "match", "models"); !strings.Contains(out, "candidate") || strings.Count(out, "applied") != 1 {
		t.Fatalf("match models after training: %s", out)
	}
	if out := run(t, db, "match", "dry-run", "1"); !strings.Contains(out, "Patient: would change") {
		t.Fatalf("match dry-run: %s", out)
	}
	if out := run(t, db, "match", "apply", "1"); !strings.Contains(out, "Patient: applied") {
		t.Fatalf("match apply: %s", out)
	}
	// The rules' untrained model, in use before, is in the history as 2.
	if out := run(t, db, "match", "rollback"); !strings.Contains(out, "model 2 applied again") {
		t.Fatalf("match rollback: %s", out)
	}
	if out := run(t, db, "match", "reindex"); !strings.Contains(out, "Patient records") {
		t.Fatalf("match reindex: %s", out)
	}
	if out := run(t, db, "eval", "--generated", "200"); !strings.Contains(out, "precision") {
		t.Fatalf("eval: %s", out)
	}
	var errOut bytes.Buffer
	if code := Main(context.Background(), []string{"seed"}, func(string) string { return "" }, &errOut, &errOut); code == 0 {
		t.Fatal("seed without --out or --load succeeded")
	}
}
