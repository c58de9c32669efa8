package sqlstore

import "strings"

// exchangeTables are the outbox the write path fills (Tx.Emit) and the
// tables of the exchange package: subscriptions and their numbered events,
// the Endpoint and Organization resources admins manage with each peer's
// pull state. Times are Unix microseconds; {pk} and {blob} are replaced per
// dialect.
var exchangeTables = []string{
	`CREATE TABLE outbox (id {pk}, kind TEXT NOT NULL, type TEXT NOT NULL, res_id TEXT NOT NULL,
		version BIGINT NOT NULL, source TEXT NOT NULL, at BIGINT NOT NULL)`,
	`CREATE TABLE subscriptions (id TEXT PRIMARY KEY, owner TEXT NOT NULL, body {blob} NOT NULL,
		topic TEXT NOT NULL, status TEXT NOT NULL, endpoint TEXT NOT NULL, content TEXT NOT NULL,
		heartbeat BIGINT NOT NULL DEFAULT 0, max_count BIGINT NOT NULL DEFAULT 0,
		events_since_start BIGINT NOT NULL DEFAULT 0, delivered BIGINT NOT NULL DEFAULT 0,
		errors BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', last_error_at BIGINT NOT NULL DEFAULT 0,
		last_sent BIGINT NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL DEFAULT 0,
		lease_owner TEXT NOT NULL DEFAULT '', lease_until BIGINT NOT NULL DEFAULT 0,
		created BIGINT NOT NULL, updated BIGINT NOT NULL)`,
	`CREATE TABLE sub_events (sub_id TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
		res_id TEXT NOT NULL, version BIGINT NOT NULL, source TEXT NOT NULL, at BIGINT NOT NULL,
		sent BIGINT NOT NULL DEFAULT 0, attempts BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (sub_id, seq))`,
	`CREATE INDEX sub_events_pending ON sub_events (sub_id, sent, seq)`,
	`CREATE TABLE exchange_locks (name TEXT PRIMARY KEY)`,
	`INSERT INTO exchange_locks (name) VALUES ('dispatch')`,
	`CREATE TABLE admin_resources (type TEXT NOT NULL, id TEXT NOT NULL, version BIGINT NOT NULL, body {blob} NOT NULL,
		name TEXT NOT NULL, status TEXT NOT NULL, conn_type TEXT NOT NULL, org TEXT NOT NULL, updated BIGINT NOT NULL,
		PRIMARY KEY (type, id))`,
	`CREATE TABLE endpoint_state (id TEXT PRIMARY KEY, secret TEXT NOT NULL DEFAULT '',
		last_success BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', last_error_at BIGINT NOT NULL DEFAULT 0,
		failures BIGINT NOT NULL DEFAULT 0, next_pull BIGINT NOT NULL DEFAULT 0, pulled BIGINT NOT NULL DEFAULT 0,
		lease_owner TEXT NOT NULL DEFAULT '', lease_until BIGINT NOT NULL DEFAULT 0)`,
	`CREATE TABLE pull_cursors (endpoint_id TEXT NOT NULL, type TEXT NOT NULL, since TEXT NOT NULL,
		PRIMARY KEY (endpoint_id, type))`,
	`CREATE TABLE pull_map (endpoint_id TEXT NOT NULL, type TEXT NOT NULL, remote_id TEXT NOT NULL,
		local_id TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (endpoint_id, type, remote_id))`,
}

// exchangeMigration creates exchangeTables on either dialect.
var exchangeMigration = migration{sqlite: dialect(exchangeTables, "INTEGER PRIMARY KEY", "BLOB"),
	postgres: dialect(exchangeTables, "BIGSERIAL PRIMARY KEY", "BYTEA")}

func dialect(stmts []string, pk, blob string) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = strings.NewReplacer("{pk}", pk, "{blob}", blob).Replace(s)
	}
	return out
}
