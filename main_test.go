package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The README's run command is "go run .": check the binary builds and its
// command line answers.
func TestGoRunHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command("go", "run", ".", "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "serve") {
		t.Fatalf("go run . help: %v\n%s", err, out)
	}
	out, err = exec.Command("go", "run", ".", "frobnicate").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown command") {
		t.Fatalf("go run . frobnicate: %v\n%s", err, out)
	}
}
