package policy_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"idem/policy"
)

func TestLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustOpen(t, db, policy.Config{})
		const pw = "correct horse battery"
		if err := a.AddUser(ctx, "alice", pw, []string{"steward"}); err != nil {
			t.Fatal(err)
		}
		var stored string
		db.read.Raw(`SELECT password FROM policy_users WHERE name = 'alice'`).Scan(&stored)
		if stored == pw || len(stored) < 60 || stored[:10] != "$argon2id$" {
			t.Errorf("stored password %q", stored)
		}

		sid, csrf, err := a.Login(ctx, "alice", pw)
		if err != nil || sid == "" || csrf == "" || sid == csrf {
			t.Fatalf("login: %q %q %v", sid, csrf, err)
		}
		p, csrf2, err := a.Session(ctx, sid)
		if err != nil || p.Kind != policy.KindUser || p.Name != "alice" || !slices.Contains(p.Roles, "steward") || !policy.Equal(csrf, csrf2) {
			t.Fatalf("session: %+v %q %v", p, csrf2, err)
		}

		// A wrong password and an unknown user fail alike.
		_, _, errPw := a.Login(ctx, "alice", "wrong password!")
		_, _, errUser := a.Login(ctx, "mallory", pw)
		if !errors.Is(errPw, policy.ErrUnauthenticated) || errPw != errUser {
			t.Errorf("wrong password %v, unknown user %v: want the same ErrUnauthenticated", errPw, errUser)
		}

		if _, _, err := a.Session(ctx, sid+"x"); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("unknown session: %v", err)
		}
		if err := a.Logout(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Session(ctx, sid); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("session after logout: %v", err)
		}

		// A new password ends the sessions.
		sid, _, _ = a.Login(ctx, "alice", pw)
		if err := a.SetPassword(ctx, "alice", "a brand new password"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Session(ctx, sid); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("session after password change: %v", err)
		}
		if _, _, err := a.Login(ctx, "alice", "a brand new password"); err != nil {
			t.Errorf("login with the new password: %v", err)
		}
		if err := a.SetPassword(ctx, "bob", "whatever whatever"); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("password of an unknown user: %v", err)
		}
	})
}

func TestAddUserRefuses(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, openSQLite(t), policy.Config{})
	if err := a.AddUser(ctx, "alice", "long enough password", []string{"steward"}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"taken":   a.AddUser(ctx, "alice", "long enough password", []string{"steward"}),
		"short":   a.AddUser(ctx, "bob", "short", []string{"steward"}),
		"role":    a.AddUser(ctx, "bob", "long enough password", []string{"source"}),
		"no role": a.AddUser(ctx, "bob", "long enough password", nil),
		"name":    a.AddUser(ctx, "Bob Smith", "long enough password", []string{"steward"}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	a := mustOpen(t, openSQLite(t), policy.Config{Now: clk.Now, SessionTTL: 12 * time.Hour})
	if err := a.AddUser(ctx, "alice", "correct horse battery", []string{"steward"}); err != nil {
		t.Fatal(err)
	}
	sid, _, err := a.Login(ctx, "alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	// Sliding: each use within 12 h keeps it alive...
	for range 3 {
		clk.Advance(11 * time.Hour)
		if _, _, err := a.Session(ctx, sid); err != nil {
			t.Fatalf("after %v: %v", clk.Now().Sub(newClock().Now()), err)
		}
	}
	// ...and 12 h without use ends it.
	clk.Advance(12 * time.Hour)
	if _, _, err := a.Session(ctx, sid); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("idle session: %v", err)
	}

	// However busy, a session ends a week after login.
	sid, _, _ = a.Login(ctx, "alice", "correct horse battery")
	for i := 0; ; i++ {
		clk.Advance(6 * time.Hour)
		if _, _, err := a.Session(ctx, sid); err != nil {
			if i*6 < 6*24-12 {
				t.Fatalf("ended after %d h: %v", (i+1)*6, err)
			}
			break
		}
		if i > 40 {
			t.Fatal("session outlived a week")
		}
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, openSQLite(t), policy.Config{})
	pw, err := a.EnsureAdmin(ctx, "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("generated %q, %v", pw, err)
	}
	if _, _, err := a.Login(ctx, "admin", pw); err != nil {
		t.Errorf("login with the generated password: %v", err)
	}
	if again, err := a.EnsureAdmin(ctx, ""); again != "" || err != nil {
		t.Errorf("second bootstrap: %q, %v", again, err)
	}

	b := mustOpen(t, openSQLite(t), policy.Config{})
	if got, err := b.EnsureAdmin(ctx, "operator's own password"); got != "" || err != nil {
		t.Errorf("bootstrap with a password: %q, %v", got, err)
	}
	sid, _, err := b.Login(ctx, "admin", "operator's own password")
	if err != nil {
		t.Fatal(err)
	}
	if p, _, err := b.Session(ctx, sid); err != nil || !slices.Contains(p.Roles, "admin") {
		t.Errorf("admin session: %+v %v", p, err)
	}
}
