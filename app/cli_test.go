package app

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// createdDB returns a fresh database of kind that exists (as one a server
// has started on): client and user refuse one that does not.
func createdDB(t *testing.T, kind string) string {
	t.Helper()
	dsn := sqltest.DSN(t, kind)
	sqltest.Open(t, dsn)
	return dsn
}

// runAll runs the command line with IDEM_DB=db and returns its exit code,
// stdout and stderr.
func runAll(db string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "IDEM_DB" {
			return db
		}
		return ""
	}
	code := Main(context.Background(), args, env, &out, &errOut)
	return code, out.String(), errOut.String()
}

// A mistyped --db must not create a database and print a token for it.
func TestCommandsRefuseMissingDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"client", "add", "ehr", "--system", "https://ehr.example.org", "--role", "source"},
		{"client", "list"},
		{"user", "add", "alice", "--role", "steward"},
		{"match", "reindex"},
	} {
		code, out, errOut := runAll(db, args...)
		if code == 0 || !strings.Contains(errOut, "typo.db does not exist") || strings.Contains(out, "token") {
			t.Errorf("idem %s on a missing database: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the database was created: %v", err)
	}
}

// Each subcommand's -h lists its own flags, not the server's.
func TestSubcommandHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"client", "add", "-h"}, []string{"usage: idem client add NAME", "-system", "-domain", "-db"}, []string{"-addr", "-trusted-proxies", "-rate"}},
		{[]string{"user", "add", "-h"}, []string{"-role", "-password", "-db"}, []string{"-addr", "-max-body"}},
		{[]string{"seed", "-h"}, []string{"-persons", "-load", "-match-rules"}, []string{"-addr", "-base-url"}},
		{[]string{"eval", "-h"}, []string{"-febrl", "-generated"}, []string{"-addr", "-db"}},
		{[]string{"match", "train", "-h"}, []string{"-type", "-sample"}, []string{"-addr"}},
		{[]string{"serve", "-h"}, []string{"-addr", "-trusted-proxies", "-metrics-addr"}, nil},
	} {
		code, _, errOut := runAll("", tc.args...)
		if code != 0 {
			t.Errorf("idem %s: exit %d", strings.Join(tc.args, " "), code)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w+" ") && !strings.Contains(errOut, w+"\n") {
				t.Errorf("idem %s: no %q in\n%s", strings.Join(tc.args, " "), w, errOut)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(errOut, n+" ") {
				t.Errorf("idem %s lists %s:\n%s", strings.Join(tc.args, " "), n, errOut)
			}
		}
	}
}

// idem --version and idem version print the build's version, not "dev".
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := runAll("", args...)
		first := strings.SplitN(out, "\n", 2)[0]
		if code != 0 || first != "idem "+versionString() || strings.Contains(out, "dev\n") || !strings.Contains(out, "built with go") {
			t.Errorf("idem %s: exit %d\n%s", args[0], code, out)
		}
	}
}

// eval names what is missing when the shared FEBRL data is not there.
func TestEvalSaysWhatIsMissing(t *testing.T) {
	code, _, errOut := runAll("", "eval", "--febrl", filepath.Join(t.TempDir(), "dataset1.csv"), "--generated", "0")
	if code == 0 || !strings.Contains(errOut, "../shared/data/febrl") || !strings.Contains(errOut, "--generated") {
		t.Fatalf("eval without the FEBRL file: exit %d\n%s", code, errOut)
	}
}

// Long commands report progress; off a terminal, as log lines.
func TestLongCommandsLogProgress(t *testing.T) {
	db := filepath.Join(t.TempDir(), "idem.db")
	code, out, errOut := runAll(db, "seed", "--load", "--persons", "60", "--practitioners", "4", "--locations", "2")
	if code != 0 || !strings.Contains(out, "loaded") {
		t.Fatalf("seed --load: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `msg="loading the network: done"`},
		{[]string{"match", "train"}, `msg="reading Patient records: done"`},
		{[]string{"match", "reindex"}, `msg="re-keying records: done"`},
		{[]string{"eval", "--generated", "60"}, `msg="evaluating generated (60 persons): done"`},
	} {
		if tc.args != nil {
			code, out, errOut = runAll(db, tc.args...)
		}
		if code != 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("idem %v: exit %d, want %s in the log\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

// idem healthcheck answers for a running server and fails for none.
func TestHealthcheckCommand(t *testing.T) {
	s := startServer(t, "sqlite")
	addr := strings.TrimPrefix(s.URL(), "http://")
	if code, out, errOut := runAll("", "healthcheck", "--addr", addr); code != 0 || out != "ok\n" {
		t.Errorf("healthcheck of a running server: exit %d %s%s", code, out, errOut)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := ln.Addr().String()
	ln.Close()
	if code, _, _ := runAll("", "healthcheck", "--addr", nobody); code == 0 {
		t.Error("healthcheck of an address nobody listens on succeeded")
	}
}
