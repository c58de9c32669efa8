package sqlstore

// Migration 9: pushed data. held_writes is the queue of held writes
// (registry/held.go): creates and updates that wait for the records their
// references name, or for a steward's review. federated_results keeps the
// merged result set of a search across linked servers, frozen when the
// search starts so that its pages stay stable, until it expires. Times are
// Unix microseconds.
var pushTables = []string{
	`CREATE TABLE held_writes (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
		client TEXT NOT NULL, actor {blob} NOT NULL, action TEXT NOT NULL, type TEXT NOT NULL,
		resource_id TEXT NOT NULL, if_match BIGINT NOT NULL DEFAULT 0, body {blob} NOT NULL,
		waiting {blob}, reason TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '',
		decided_by TEXT NOT NULL DEFAULT '', tries BIGINT NOT NULL DEFAULT 0, next_try BIGINT NOT NULL DEFAULT 0,
		created BIGINT NOT NULL, updated BIGINT NOT NULL)`,
	`CREATE INDEX held_writes_queue ON held_writes (status, kind, created)`,
	`CREATE TABLE federated_results (id TEXT PRIMARY KEY, owner TEXT NOT NULL, query TEXT NOT NULL,
		body {blob} NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL)`,
	`CREATE INDEX federated_results_expires ON federated_results (expires)`,
}

var pushMigration = migration{sqlite: dialect(pushTables, "INTEGER PRIMARY KEY", "BLOB"),
	postgres: dialect(pushTables, "BIGSERIAL PRIMARY KEY", "BYTEA")}
