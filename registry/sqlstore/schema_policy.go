package sqlstore

// policyTables are policy's (package policy decides; package
// registry/sqlstore/policystore keeps its state in these). Plain SQL both
// dialects accept. Before migration 8, policy created these same tables
// itself on every start, so a database from then has them already: every
// statement is idempotent, and the upgrade keeps their rows. Times are
// Unix microseconds, 0 meaning "never"; lists are space-separated (names,
// roles and identifier-system URIs contain no spaces).
var policyTables = []string{
	`CREATE TABLE IF NOT EXISTS policy_clients (
		name TEXT PRIMARY KEY,
		system TEXT NOT NULL,
		roles TEXT NOT NULL,
		domains TEXT NOT NULL,
		token_hash TEXT NOT NULL UNIQUE,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL DEFAULT 0,
		revoked BIGINT NOT NULL DEFAULT 0
	)`,
	// One row per owned identifier domain (canonical form): the primary key
	// is the rule "a single identity source per identifier domain".
	`CREATE TABLE IF NOT EXISTS policy_domains (
		system TEXT PRIMARY KEY,
		client TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS policy_users (
		name TEXT PRIMARY KEY,
		password TEXT NOT NULL,
		roles TEXT NOT NULL,
		created BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS policy_sessions (
		id_hash TEXT PRIMARY KEY,
		username TEXT NOT NULL,
		csrf TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS policy_sessions_user ON policy_sessions (username)`,
	`CREATE TABLE IF NOT EXISTS policy_rules (
		ptype TEXT NOT NULL,
		v0 TEXT NOT NULL DEFAULT '',
		v1 TEXT NOT NULL DEFAULT '',
		v2 TEXT NOT NULL DEFAULT '',
		v3 TEXT NOT NULL DEFAULT '',
		v4 TEXT NOT NULL DEFAULT '',
		v5 TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (ptype, v0, v1, v2, v3, v4, v5)
	)`,
	// A counter advanced by every change to rules, clients or domains; each
	// instance polls it and reloads when it moves.
	`CREATE TABLE IF NOT EXISTS policy_version (
		id INTEGER PRIMARY KEY,
		version BIGINT NOT NULL
	)`,
	`INSERT INTO policy_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING`,
	// SMART Backend Services: a client's public keys (a JWK Set as given),
	// the assertion ids it used (kept until the assertion expires, so a
	// replay is refused on every instance), and the access tokens issued.
	`CREATE TABLE IF NOT EXISTS policy_client_keys (
		client TEXT PRIMARY KEY,
		jwks TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS policy_assertions (
		client TEXT NOT NULL,
		jti TEXT NOT NULL,
		expires BIGINT NOT NULL,
		PRIMARY KEY (client, jti)
	)`,
	`CREATE TABLE IF NOT EXISTS policy_access_tokens (
		token_hash TEXT PRIMARY KEY,
		client TEXT NOT NULL,
		scope TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS policy_access_tokens_client ON policy_access_tokens (client)`,
	// Failed sign-ins per account and per address, shared by every instance.
	`CREATE TABLE IF NOT EXISTS policy_throttle (
		subject TEXT PRIMARY KEY,
		failures BIGINT NOT NULL,
		last_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS policy_throttle_last ON policy_throttle (last_failure)`,
}

// Migration 8: policy's tables join the migration sequence.
var policyMigration = migration{sqlite: policyTables, postgres: policyTables}
