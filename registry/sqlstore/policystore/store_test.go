package policystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"idem/policy"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/policystore"
	"idem/registry/sqlstore/sqltest"
)

// The store's contract, on SQLite always and on PostgreSQL when
// IDEM_TEST_POSTGRES is set: what each method keeps, refuses and reports.

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func each(t *testing.T, fn func(t *testing.T, ctx context.Context, st *policystore.Store)) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		fn(t, context.Background(), policystore.New(s))
	})
}

func version(t *testing.T, ctx context.Context, st *policystore.Store) int64 {
	t.Helper()
	v, err := st.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: got %v, want an error matching %v", what, err, kind)
	}
}

func TestClients(t *testing.T) {
	each(t, func(t *testing.T, ctx context.Context, st *policystore.Store) {
		v0 := version(t, ctx, st)
		ehr := policy.Client{Name: "ehr", System: "https://ehr.example.org", Roles: []string{"source", "reader"},
			Domains: []string{"HTTPS://EHR.example.org/mrn/"}, Created: t0, Expires: t0.Add(48 * time.Hour)}
		mustNil(t, "add", st.AddClient(ctx, policy.NewClient{Client: ehr, TokenHash: "h-ehr", Owned: []string{"http://ehr.example.org/mrn"}}))
		if v := version(t, ctx, st); v != v0+1 {
			t.Errorf("version after add: %d, want %d", v, v0+1)
		}
		keys := `{"keys":[]}`
		lab := policy.Client{Name: "lab", System: "urn:lab", Roles: []string{"reader"}, Created: t0, JWKS: keys}
		mustNil(t, "add jwks client", st.AddClient(ctx, policy.NewClient{Client: lab, TokenHash: "none:lab"}))

		got, err := st.Client(ctx, "ehr")
		mustNil(t, "client", err)
		if diff := cmp.Diff(ehr, got); diff != "" {
			t.Errorf("stored client (-want +got):\n%s", diff)
		}
		if got, err := st.ClientByToken(ctx, "h-ehr"); err != nil || got.Name != "ehr" {
			t.Errorf("by token: %+v, %v", got, err)
		}
		_, err = st.ClientByToken(ctx, "h-unknown")
		wantKind(t, "unknown token", err, policy.ErrNotFound)
		_, err = st.Client(ctx, "nobody")
		wantKind(t, "unknown client", err, policy.ErrNotFound)
		cs, err := st.Clients(ctx)
		mustNil(t, "list", err)
		if len(cs) != 2 || cs[0].Name != "ehr" || cs[1].Name != "lab" || cs[1].JWKS != keys {
			t.Errorf("clients by name: %+v", cs)
		}

		v1 := version(t, ctx, st)
		err = st.AddClient(ctx, policy.NewClient{Client: policy.Client{Name: "ehr", System: "urn:x", Roles: []string{"reader"}}, TokenHash: "h2"})
		wantKind(t, "name taken", err, policy.ErrExists)
		err = st.AddClient(ctx, policy.NewClient{Client: policy.Client{Name: "gp", System: "urn:gp", Roles: []string{"source"}},
			TokenHash: "h-gp", Owned: []string{"urn:gp:ids", "http://ehr.example.org/mrn"}})
		wantKind(t, "domain owned", err, policy.ErrExists)
		if _, err := st.Client(ctx, "gp"); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("a refused client is half-stored: %v", err)
		}
		if v := version(t, ctx, st); v != v1 {
			t.Errorf("refused changes advanced the version: %d, want %d", v, v1)
		}

		mustNil(t, "set token", st.SetClientToken(ctx, "ehr", "h-new", time.Time{}))
		if _, err := st.ClientByToken(ctx, "h-ehr"); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("the old token still finds the client: %v", err)
		}
		if got, _ := st.ClientByToken(ctx, "h-new"); !got.Expires.IsZero() {
			t.Errorf("expiry not cleared: %v", got.Expires)
		}

		mustNil(t, "grant", st.AddGrant(ctx, policy.Grant{Client: "ehr", JTI: "j", JTIExpires: t0.Add(time.Hour),
			TokenHash: "at-ehr", Scope: "system/*.*", Created: t0, Expires: t0.Add(5 * time.Minute)}))
		mustNil(t, "revoke", st.RevokeClient(ctx, "ehr", t0.Add(time.Hour)))
		wantKind(t, "revoke twice", st.RevokeClient(ctx, "ehr", t0), policy.ErrNotFound)
		wantKind(t, "set token of a revoked client", st.SetClientToken(ctx, "ehr", "h3", time.Time{}), policy.ErrNotFound)
		if got, _ := st.Client(ctx, "ehr"); !got.Revoked.Equal(t0.Add(time.Hour)) {
			t.Errorf("revoked at %v", got.Revoked)
		}
		_, err = st.AccessToken(ctx, "at-ehr")
		wantKind(t, "a revoked client's access token", err, policy.ErrNotFound)
		snap, err := st.Snapshot(ctx)
		mustNil(t, "snapshot", err)
		if len(snap.Owners) != 0 || len(snap.Clients) != 2 || snap.Version != version(t, ctx, st) {
			t.Errorf("after revocation the domain is released and the client still listed: %+v", snap)
		}
		// A released domain can be owned again.
		mustNil(t, "successor", st.AddClient(ctx, policy.NewClient{Client: policy.Client{Name: "ehr2", System: "urn:ehr2", Roles: []string{"source"}, Created: t0},
			TokenHash: "h-ehr2", Owned: []string{"http://ehr.example.org/mrn"}}))
		if snap, _ := st.Snapshot(ctx); snap.Owners["http://ehr.example.org/mrn"] != "ehr2" {
			t.Errorf("owners: %v", snap.Owners)
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	each(t, func(t *testing.T, ctx context.Context, st *policystore.Store) {
		v0 := version(t, ctx, st)
		mustNil(t, "add", st.AddUser(ctx, policy.User{Name: "ann", Roles: []string{"steward"}, Created: t0}, "hash-1"))
		wantKind(t, "add twice", st.AddUser(ctx, policy.User{Name: "ann", Roles: []string{"admin"}}, "x"), policy.ErrExists)
		mustNil(t, "add bob", st.AddUser(ctx, policy.User{Name: "bob", Roles: []string{"admin", "steward"}, Created: t0}, "hash-b"))
		us, err := st.Users(ctx)
		mustNil(t, "users", err)
		want := []policy.User{{Name: "ann", Roles: []string{"steward"}, Created: t0}, {Name: "bob", Roles: []string{"admin", "steward"}, Created: t0}}
		if diff := cmp.Diff(want, us); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
		if h, err := st.PasswordHash(ctx, "ann"); err != nil || h != "hash-1" {
			t.Errorf("password hash %q, %v", h, err)
		}
		_, err = st.PasswordHash(ctx, "nobody")
		wantKind(t, "unknown user", err, policy.ErrNotFound)
		if v := version(t, ctx, st); v != v0 {
			t.Errorf("users are no policy change, yet the version moved to %d", v)
		}

		old := policy.Session{IDHash: "s-old", User: "ann", CSRF: "c0", Created: t0.Add(-2 * time.Hour), Expires: t0.Add(-time.Hour)}
		mustNil(t, "old session", st.AddSession(ctx, old))
		s := policy.Session{IDHash: "s1", User: "ann", CSRF: "c1", Created: t0, Expires: t0.Add(12 * time.Hour)}
		mustNil(t, "session", st.AddSession(ctx, s))
		_, err = st.Session(ctx, "s-old")
		wantKind(t, "a session expired when another starts is swept", err, policy.ErrNotFound)
		got, err := st.Session(ctx, "s1")
		mustNil(t, "read session", err)
		s.Roles = []string{"steward"}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("session (-want +got):\n%s", diff)
		}
		mustNil(t, "extend", st.ExtendSession(ctx, "s1", t0.Add(24*time.Hour)))
		if got, _ := st.Session(ctx, "s1"); !got.Expires.Equal(t0.Add(24 * time.Hour)) {
			t.Errorf("extended to %v", got.Expires)
		}

		mustNil(t, "set password", st.SetPassword(ctx, "ann", "hash-2"))
		if h, _ := st.PasswordHash(ctx, "ann"); h != "hash-2" {
			t.Errorf("password hash %q after change", h)
		}
		_, err = st.Session(ctx, "s1")
		wantKind(t, "a new password ends the sessions", err, policy.ErrNotFound)
		wantKind(t, "set password of nobody", st.SetPassword(ctx, "nobody", "x"), policy.ErrNotFound)

		mustNil(t, "bob's session", st.AddSession(ctx, policy.Session{IDHash: "s2", User: "bob", CSRF: "c2", Created: t0, Expires: t0.Add(time.Hour)}))
		mustNil(t, "remove bob", st.RemoveUser(ctx, "bob"))
		_, err = st.Session(ctx, "s2")
		wantKind(t, "a removed user's session", err, policy.ErrNotFound)
		wantKind(t, "remove twice", st.RemoveUser(ctx, "bob"), policy.ErrNotFound)

		mustNil(t, "ann's session", st.AddSession(ctx, policy.Session{IDHash: "s3", User: "ann", CSRF: "c3", Created: t0, Expires: t0.Add(time.Hour)}))
		mustNil(t, "logout", st.RemoveSession(ctx, "s3"))
		mustNil(t, "logout of an unknown session", st.RemoveSession(ctx, "s3"))
		_, err = st.Session(ctx, "s3")
		wantKind(t, "after logout", err, policy.ErrNotFound)
	})
}

func TestRules(t *testing.T) {
	each(t, func(t *testing.T, ctx context.Context, st *policystore.Store) {
		deny := policy.Rule{Type: "p", Values: []string{"client:lab", "Patient", "*", "read", "deny"}}
		grant := policy.Rule{Type: "g", Values: []string{"client:lab", "role:reader"}}
		v0 := version(t, ctx, st)
		mustNil(t, "add p", st.AddRule(ctx, deny))
		mustNil(t, "add g", st.AddRule(ctx, grant))
		wantKind(t, "add twice", st.AddRule(ctx, deny), policy.ErrExists)
		if v := version(t, ctx, st); v != v0+2 {
			t.Errorf("version %d, want %d", v, v0+2)
		}
		snap, err := st.Snapshot(ctx)
		mustNil(t, "snapshot", err)
		// Stored rules come back with their own number of values, g before p.
		if diff := cmp.Diff([]policy.Rule{grant, deny}, snap.Rules); diff != "" {
			t.Errorf("rules (-want +got):\n%s", diff)
		}
		mustNil(t, "remove", st.RemoveRule(ctx, deny))
		wantKind(t, "remove twice", st.RemoveRule(ctx, deny), policy.ErrNotFound)
		long := policy.Rule{Type: "p", Values: []string{"a", "b", "c", "d", "e", "f", "g"}}
		wantKind(t, "seven values", st.AddRule(ctx, long), policy.ErrInvalid)
		if snap, _ := st.Snapshot(ctx); len(snap.Rules) != 1 || snap.Version != v0+3 {
			t.Errorf("after removal: %+v", snap)
		}
	})
}

func TestGrants(t *testing.T) {
	each(t, func(t *testing.T, ctx context.Context, st *policystore.Store) {
		g := policy.Grant{Client: "backend", JTI: "j1", JTIExpires: t0.Add(5 * time.Minute), TokenHash: "at1",
			Scope: "system/Patient.rs", Created: t0, Expires: t0.Add(5 * time.Minute)}
		mustNil(t, "grant", st.AddGrant(ctx, g))
		again := g
		again.TokenHash = "at2"
		wantKind(t, "replayed jti", st.AddGrant(ctx, again), policy.ErrExists)
		if _, err := st.AccessToken(ctx, "at2"); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("a refused grant stored its token: %v", err)
		}
		got, err := st.AccessToken(ctx, "at1")
		mustNil(t, "access token", err)
		if got.Client != "backend" || got.Scope != g.Scope || !got.Expires.Equal(g.Expires) || !got.Created.Equal(t0) {
			t.Errorf("access token %+v", got)
		}
		// Once the jti and the token have expired, they are swept and the
		// jti may be used again.
		later := g
		later.TokenHash, later.Created, later.Expires = "at3", t0.Add(time.Hour), t0.Add(time.Hour+5*time.Minute)
		mustNil(t, "grant after expiry", st.AddGrant(ctx, later))
		_, err = st.AccessToken(ctx, "at1")
		wantKind(t, "expired token swept", err, policy.ErrNotFound)
	})
}

func TestThrottle(t *testing.T) {
	each(t, func(t *testing.T, ctx context.Context, st *policystore.Store) {
		var seen []int64
		fail := func(at time.Time, keys ...string) {
			t.Helper()
			mustNil(t, "count", st.CountFailure(ctx, policy.Failure{Keys: keys, At: at, Forget: at.Add(-time.Hour),
				Until: func(key string, n int64) time.Time {
					if key == "user:ann" {
						seen = append(seen, n)
					}
					if n < 3 {
						return time.Time{}
					}
					return at.Add(time.Duration(n) * time.Minute)
				}}))
		}
		for range 2 {
			fail(t0, "user:ann", "addr:10.0.0.1")
		}
		if until, err := st.LockedUntil(ctx, []string{"user:ann", "addr:10.0.0.1", "user:nobody"}); err != nil || len(until) != 2 || !until[0].IsZero() || !until[1].IsZero() {
			t.Errorf("under the free failures: %v, %v", until, err)
		}
		fail(t0, "user:ann")
		until, err := st.LockedUntil(ctx, []string{"user:ann"})
		if err != nil || len(until) != 1 || !until[0].Equal(t0.Add(3*time.Minute)) {
			t.Errorf("after the third failure: %v, %v", until, err)
		}
		if diff := cmp.Diff([]int64{1, 2, 3}, seen); diff != "" {
			t.Errorf("counts handed to Until (-want +got):\n%s", diff)
		}
		mustNil(t, "clear", st.ClearFailures(ctx, "user:ann"))
		if until, _ := st.LockedUntil(ctx, []string{"user:ann", "addr:10.0.0.1"}); len(until) != 1 {
			t.Errorf("a success clears the account's count only: %v", until)
		}
		// Counts are forgotten an hour after their last failure.
		seen = nil
		fail(t0.Add(2*time.Hour), "user:ann")
		if until, _ := st.LockedUntil(ctx, []string{"addr:10.0.0.1"}); len(until) != 0 {
			t.Errorf("an old count is not forgotten: %v", until)
		}
		if diff := cmp.Diff([]int64{1}, seen); diff != "" {
			t.Errorf("a fresh count (-want +got):\n%s", diff)
		}
		if until, err := st.LockedUntil(ctx, nil); err != nil || len(until) != 0 {
			t.Errorf("no keys: %v, %v", until, err)
		}
	})
}
