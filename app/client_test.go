package app

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"idem/policy"
	"idem/registry/sqlstore/policystore"
	"idem/registry/sqlstore/sqltest"
)

// runFails runs the command line expecting failure, and returns stderr.
func runFails(t *testing.T, db string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "IDEM_DB" {
			return db
		}
		return ""
	}
	if code := Main(context.Background(), args, env, &out, &errOut); code == 0 {
		t.Fatalf("idem %s succeeded:\n%s", strings.Join(args, " "), out.String())
	}
	return errOut.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// openPolicy opens the policy of the database at dsn, as a server would.
func openPolicy(t *testing.T, dsn string) *policy.Authorizer {
	t.Helper()
	a, err := policy.Open(context.Background(), policystore.New(sqltest.Open(t, dsn)), policy.Config{Reload: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestClientCommands(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db := createdDB(t, kind)
			out := run(t, db, "client", "add", "ehr-main", "--system", "https://ehr.example.org", "--role", "source",
				"--domain", "urn:oid:1.2.3", "--domain", "urn:oid:1.2.4", "--expires", "90d")
			token := lastLine(out)
			if !strings.HasPrefix(token, policy.TokenPrefix) || strings.Contains(token, " ") {
				t.Fatalf("last line %q is not a token:\n%s", token, out)
			}
			for _, want := range []string{"added client ehr-main", "source", "urn:oid:1.2.3, urn:oid:1.2.4"} {
				if !strings.Contains(out, want) {
					t.Errorf("client add output lacks %q:\n%s", want, out)
				}
			}
			// Flags first, name last works too.
			labToken := lastLine(run(t, db, "client", "add", "--system", "https://lab.example.org", "--role", "reader", "lab-east"))

			errOut := runFails(t, db, "client", "add", "lab-west", "--system", "https://lab.example.org", "--role", "source", "--domain", "urn:oid:1.2.3")
			if !strings.Contains(errOut, "identifier domain urn:oid:1.2.3 is owned by client ehr-main") {
				t.Errorf("stealing a domain: %s", errOut)
			}
			runFails(t, db, "client", "add", "x", "--system", "https://x.example.org", "--role", "source", "--expires", "soon")
			runFails(t, db, "client", "add", "--role", "source")

			list := run(t, db, "client", "list")
			if strings.Contains(list, policy.TokenPrefix) || strings.Contains(list, token[len(policy.TokenPrefix):]) {
				t.Errorf("client list shows a token:\n%s", list)
			}
			if !strings.Contains(list, "ehr-main") || !strings.Contains(list, "lab-east") || strings.Count(list, "active") != 2 {
				t.Errorf("client list:\n%s", list)
			}

			a := openPolicy(t, db)
			p, err := a.Authenticate(ctx, token)
			if err != nil || p.Name != "ehr-main" || !slices.Contains(p.Roles, "source") {
				t.Fatalf("token from client add: %+v %v", p, err)
			}
			c, _ := a.Client(ctx, "ehr-main")
			if days := time.Until(c.Expires).Hours() / 24; days < 89 || days > 90 {
				t.Errorf("expires in %.1f days, want 90", days)
			}
			if d := a.Decide(p, "create", "Patient", []string{"urn:oid:1.2.3"}); !d.Allowed {
				t.Errorf("ehr-main may not create in its domain: %+v", d)
			}

			run(t, db, "client", "revoke", "ehr-main")
			if _, err := openPolicy(t, db).Authenticate(ctx, token); !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("revoked token: %v", err)
			}
			if !strings.Contains(run(t, db, "client", "list"), "revoked") {
				t.Error("client list does not show the revocation")
			}

			newToken := lastLine(run(t, db, "client", "rotate", "lab-east", "--expires", "12h"))
			b := openPolicy(t, db)
			if _, err := b.Authenticate(ctx, labToken); !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("token before rotation: %v", err)
			}
			if _, err := b.Authenticate(ctx, newToken); err != nil {
				t.Errorf("rotated token: %v", err)
			}
		})
	}
}

func TestUserCommands(t *testing.T) {
	ctx := context.Background()
	db := createdDB(t, "sqlite")
	out := run(t, db, "user", "add", "alice", "--role", "steward")
	pw := lastLine(out)
	if len(pw) < 20 || !strings.Contains(out, "shown only now") {
		t.Fatalf("user add without --password:\n%s", out)
	}
	if _, _, err := openPolicy(t, db).Login(ctx, "alice", pw); err != nil {
		t.Fatalf("login with the printed password: %v", err)
	}

	out = run(t, db, "user", "add", "bob", "--role", "admin", "--password", "bob's long password")
	if strings.Contains(out, "bob's long password") || strings.Contains(out, "shown only now") {
		t.Errorf("a given password is echoed:\n%s", out)
	}
	run(t, db, "user", "passwd", "alice", "--password", "alice's new password")
	a := openPolicy(t, db)
	if _, _, err := a.Login(ctx, "alice", pw); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("old password still works: %v", err)
	}
	if _, _, err := a.Login(ctx, "alice", "alice's new password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if list := run(t, db, "user", "list"); !strings.Contains(list, "alice") || !strings.Contains(list, "admin") {
		t.Errorf("user list:\n%s", list)
	}
	runFails(t, db, "user", "add", "carol", "--role", "source")
	runFails(t, db, "user", "passwd", "nobody")
}

// policy stands apart from the project (docs/style.md): it must not import
// any idem package.
func TestPolicyImportsNothingOfTheProject(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "idem/policy").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "idem/policy" && strings.HasPrefix(dep, "idem/") {
			t.Errorf("idem/policy depends on %s", dep)
		}
	}
}
