package app

import (
	"os"
	"path/filepath"
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
