package needcgo

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A build without cgo stops with an error naming the cause (the SQLite
// driver is C), not only the store's error about sqlite3.SQLiteConn.
func TestBuildWithoutCgoSaysWhy(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "idem_needs_cgo_for_SQLite__install_a_C_compiler_gcc_and_build_with_CGO_ENABLED_1") {
		t.Fatalf("CGO_ENABLED=0 go build ./app/needcgo: %v\n%s", err, out)
	}
}
