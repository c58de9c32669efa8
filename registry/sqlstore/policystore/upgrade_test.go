package policystore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gorm.io/gorm"

	"idem/policy"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/policystore"
	"idem/registry/sqlstore/sqltest"
)

// oldSchema is how policy created its tables itself, on every start, before
// they joined the store's migrations (policy/schema.go and throttle.go at
// commit 74ad53a), kept verbatim so the upgrade test does not depend on
// today's migration.
var oldSchema = []string{
	`CREATE TABLE IF NOT EXISTS policy_clients (name TEXT PRIMARY KEY, system TEXT NOT NULL, roles TEXT NOT NULL,
		domains TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created BIGINT NOT NULL,
		expires BIGINT NOT NULL DEFAULT 0, revoked BIGINT NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS policy_domains (system TEXT PRIMARY KEY, client TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS policy_users (name TEXT PRIMARY KEY, password TEXT NOT NULL, roles TEXT NOT NULL, created BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS policy_sessions (id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
		created BIGINT NOT NULL, expires BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS policy_sessions_user ON policy_sessions (username)`,
	`CREATE TABLE IF NOT EXISTS policy_rules (ptype TEXT NOT NULL, v0 TEXT NOT NULL DEFAULT '', v1 TEXT NOT NULL DEFAULT '',
		v2 TEXT NOT NULL DEFAULT '', v3 TEXT NOT NULL DEFAULT '', v4 TEXT NOT NULL DEFAULT '', v5 TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (ptype, v0, v1, v2, v3, v4, v5))`,
	`CREATE TABLE IF NOT EXISTS policy_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)`,
	`INSERT INTO policy_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING`,
	`CREATE TABLE IF NOT EXISTS policy_client_keys (client TEXT PRIMARY KEY, jwks TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS policy_assertions (client TEXT NOT NULL, jti TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (client, jti))`,
	`CREATE TABLE IF NOT EXISTS policy_access_tokens (token_hash TEXT PRIMARY KEY, client TEXT NOT NULL, scope TEXT NOT NULL,
		created BIGINT NOT NULL, expires BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS policy_access_tokens_client ON policy_access_tokens (client)`,
	`CREATE TABLE IF NOT EXISTS policy_throttle (subject TEXT PRIMARY KEY, failures BIGINT NOT NULL, last_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS policy_throttle_last ON policy_throttle (last_failure)`,
}

var policyTables = []string{"policy_clients", "policy_domains", "policy_users", "policy_sessions", "policy_rules",
	"policy_version", "policy_client_keys", "policy_assertions", "policy_access_tokens", "policy_throttle"}

// A database made by the old code path — the store's migrations 1 to 7,
// and policy's tables created by policy, holding a client, a user with a
// session, a rule and a version — upgrades to migration 8 when the store
// opens, and keeps them all: the token, the password and the session still
// authenticate, the rule and the domain owner are in force.
func TestUpgradeKeepsOldPolicyTables(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dsn := sqltest.DSN(t, kind)
			token, sid, version := oldDatabase(t, dsn)

			s := sqltest.Open(t, dsn) // runs the policy migration over the old tables
			var applied int
			if err := s.ReadDB().Raw(`SELECT MAX(version) FROM schema_migrations`).Scan(&applied).Error; err != nil || applied < sqlstore.PolicyMigration {
				t.Fatalf("migrations applied: %d, %v", applied, err)
			}
			a, err := policy.Open(ctx, policystore.New(s), policy.Config{Reload: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.Version() != version {
				t.Errorf("policy version %d after the upgrade, want %d", a.Version(), version)
			}
			p, err := a.Authenticate(ctx, token)
			if err != nil || p.Name != "ehr" || !slices.Equal(p.Domains, []string{"https://ehr.example.org/mrn"}) {
				t.Errorf("the old client's token: %+v, %v", p, err)
			}
			if _, _, err := a.Login(ctx, "ann", "correct horse battery"); err != nil {
				t.Errorf("the old user's password: %v", err)
			}
			if u, _, err := a.Session(ctx, sid); err != nil || u.Name != "ann" {
				t.Errorf("the old session: %+v, %v", u, err)
			}
			if d := a.Decide(p, "read", "Patient", nil); d.Allowed || d.Rule != "p, client:ehr, Patient, *, read, deny" {
				t.Errorf("the old rule is not in force: %+v", d)
			}
			_, err = a.AddClient(ctx, policy.Client{Name: "usurper", System: "urn:u", Roles: []string{"source"}, Domains: []string{"https://ehr.example.org/mrn"}})
			if !errors.Is(err, policy.ErrExists) {
				t.Errorf("the old domain owner is forgotten: %v", err)
			}
		})
	}
}

// oldDatabase builds at dsn a database as the code before migration 8 left
// it, and returns the client's token, the user's session and the version.
func oldDatabase(t *testing.T, dsn string) (token, sid string, version int64) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Back to before the policy migration, then policy's tables as policy made them.
	err = s.WriteDB(ctx, func(tx *gorm.DB) error {
		for _, table := range policyTables {
			if err := tx.Exec(`DROP TABLE ` + table).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`DELETE FROM schema_migrations WHERE version = ?`, sqlstore.PolicyMigration).Error; err != nil {
			return err
		}
		for _, q := range oldSchema {
			if err := tx.Exec(q).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := policy.Open(ctx, policystore.New(s), policy.Config{Reload: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if token, err = a.AddClient(ctx, policy.Client{Name: "ehr", System: "https://ehr.example.org", Roles: []string{"source"},
		Domains: []string{"https://ehr.example.org/mrn"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, "ann", "correct horse battery", []string{"steward"}); err != nil {
		t.Fatal(err)
	}
	if sid, _, err = a.Login(ctx, "ann", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	deny, _ := policy.ParseRule("p, client:ehr, Patient, *, read, deny")
	if err := a.AddRule(ctx, deny); err != nil {
		t.Fatal(err)
	}
	return token, sid, a.Version()
}
