package app

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestEvalProfiles(t *testing.T) {
	db := filepath.Join(t.TempDir(), "idem.db")
	out := run(t, db, "eval", "--generated", "200", "--profile", "all")
	for _, want := range []string{
		"generated (200 persons), default model", "generated sparse (200 persons)", "generated many (200 persons)",
		"generated geocoded (200 persons), Location", "Practitioner evaluation", "left to review", "observed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q", want)
		}
	}
}

func TestEvalLinkedLocations(t *testing.T) {
	db := filepath.Join(t.TempDir(), "idem.db")
	out := run(t, db, "eval", "--linked", "--generated", "60", "--profile", "geocoded", "--practitioners", "0", "--locations", "40")
	if !strings.Contains(out, "Location, linked on write") || !strings.Contains(out, "precision") {
		t.Fatalf("eval --linked: %s", out)
	}
}

// TestEvalLinkedLocationPrecision loads generated facilities through the
// registry's write path, linking on every create, and checks the pairwise
// precision of the automatic links on both facility profiles (measured
// 1.000 on 400 sites; 0.71 and 0.75 under the rules before Location names
// were compared word by word).
func TestEvalLinkedLocationPrecision(t *testing.T) {
	db := filepath.Join(t.TempDir(), "idem.db")
	out := run(t, db, "eval", "--linked", "--types", "Location", "--generated", "2000", "--locations", "400",
		"--profile", "default,geocoded", "--wrong", "5")
	re := regexp.MustCompile(`precision ([0-9.]+)\s+recall ([0-9.]+)\s+F1 ([0-9.]+)`)
	found := re.FindAllStringSubmatch(out, -1)
	if len(found) != 2 || strings.Contains(out, "Patient") {
		t.Fatalf("want two Location reports and no other type: %s", out)
	}
	for _, f := range found {
		p, _ := strconv.ParseFloat(f[1], 64)
		f1, _ := strconv.ParseFloat(f[3], 64)
		if p < 0.99 || f1 < 0.9 {
			t.Errorf("precision %.4f, F1 %.4f: want at least 0.99 and 0.9\n%s", p, f1, out)
		}
	}
}

func TestEvalFEBRL(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "febrl", "dataset1.csv")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("FEBRL data not found (%v): skipping", err)
	}
	out := run(t, filepath.Join(t.TempDir(), "idem.db"), "eval", "--febrl", path, "--generated", "0")
	if !strings.Contains(out, "dataset1.csv, trained without labels") {
		t.Fatalf("eval --febrl: %s", out)
	}
}
