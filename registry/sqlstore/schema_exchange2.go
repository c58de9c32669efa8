package sqlstore

// exchange2Tables extend the exchange tables: how far each subscription's
// delivered events were pruned (IDEM_EVENT_RETENTION), so $events can
// tell a pruned event from one that never was; the history of pulls from
// each peer with their counts (the admin UI's peer page); and an
// Endpoint's SMART Backend Services private key, stored apart from its
// body like the bearer token and never returned.
var exchange2Tables = []string{
	`ALTER TABLE subscriptions ADD COLUMN pruned BIGINT NOT NULL DEFAULT 0`,
	`CREATE TABLE pull_runs (id {pk}, endpoint_id TEXT NOT NULL, trigger TEXT NOT NULL, started BIGINT NOT NULL,
		finished BIGINT NOT NULL DEFAULT 0, fetched BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL DEFAULT 0,
		updated BIGINT NOT NULL DEFAULT 0, deleted BIGINT NOT NULL DEFAULT 0, skipped BIGINT NOT NULL DEFAULT 0,
		pages BIGINT NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '')`,
	`CREATE INDEX pull_runs_endpoint ON pull_runs (endpoint_id, id)`,
	`ALTER TABLE endpoint_state ADD COLUMN smart_key TEXT NOT NULL DEFAULT ''`,
}

var exchange2Migration = migration{sqlite: dialect(exchange2Tables, "INTEGER PRIMARY KEY", "BLOB"),
	postgres: dialect(exchange2Tables, "BIGSERIAL PRIMARY KEY", "BYTEA")}

// notifiedMigration counts the notifications each peer's Endpoint received
// (exchange.Service.Notified): a pull that ends after one arrived pulls
// again at once, since what it read may predate the notified change.
var notifiedMigration = migration{
	sqlite:   []string{`ALTER TABLE endpoint_state ADD COLUMN notified INTEGER NOT NULL DEFAULT 0`},
	postgres: []string{`ALTER TABLE endpoint_state ADD COLUMN notified BIGINT NOT NULL DEFAULT 0`},
}
