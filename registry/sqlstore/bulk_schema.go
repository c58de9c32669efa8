package sqlstore

// Migration 6: bulk jobs ($import, $export), the spooled input lines of
// imports and their match reports. A job is worked on by one instance at a
// time: the one holding its lease (lease_owner until lease_until); a lease
// that ran out is taken over, so a crashed instance's jobs resume.
var bulkMigration = migration{
	sqlite: []string{
		`CREATE TABLE bulk_jobs (
			id TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			status TEXT NOT NULL,
			actor BLOB NOT NULL,
			request TEXT NOT NULL,
			params BLOB,
			total INTEGER NOT NULL DEFAULT 0,
			done INTEGER NOT NULL DEFAULT 0,
			summary BLOB,
			error TEXT NOT NULL DEFAULT '',
			created INTEGER NOT NULL,
			updated INTEGER NOT NULL,
			finished INTEGER NOT NULL DEFAULT 0,
			lease_owner TEXT NOT NULL DEFAULT '',
			lease_until INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE bulk_lines (job TEXT NOT NULL, line INTEGER NOT NULL, body BLOB NOT NULL, problem BLOB,
			PRIMARY KEY (job, line)) WITHOUT ROWID`,
		`CREATE TABLE bulk_results (job TEXT NOT NULL, line INTEGER NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
			source TEXT NOT NULL, system TEXT NOT NULL, outcome TEXT NOT NULL, golden TEXT NOT NULL,
			new_golden INTEGER NOT NULL, review INTEGER NOT NULL, capped TEXT NOT NULL, problem BLOB,
			PRIMARY KEY (job, line)) WITHOUT ROWID`,
		`CREATE INDEX bulk_jobs_kind_created ON bulk_jobs (kind, created)`,
	},
	postgres: []string{
		`CREATE TABLE bulk_jobs (
			id TEXT COLLATE "C" PRIMARY KEY,
			kind TEXT NOT NULL,
			status TEXT NOT NULL,
			actor BYTEA NOT NULL,
			request TEXT NOT NULL,
			params BYTEA,
			total BIGINT NOT NULL DEFAULT 0,
			done BIGINT NOT NULL DEFAULT 0,
			summary BYTEA,
			error TEXT NOT NULL DEFAULT '',
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			finished BIGINT NOT NULL DEFAULT 0,
			lease_owner TEXT NOT NULL DEFAULT '',
			lease_until BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE bulk_lines (job TEXT COLLATE "C" NOT NULL, line BIGINT NOT NULL, body BYTEA NOT NULL, problem BYTEA,
			PRIMARY KEY (job, line))`,
		`CREATE TABLE bulk_results (job TEXT COLLATE "C" NOT NULL, line BIGINT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
			source TEXT NOT NULL, system TEXT NOT NULL, outcome TEXT NOT NULL, golden TEXT NOT NULL,
			new_golden INTEGER NOT NULL, review INTEGER NOT NULL, capped TEXT NOT NULL, problem BYTEA,
			PRIMARY KEY (job, line))`,
		`CREATE INDEX bulk_jobs_kind_created ON bulk_jobs (kind, created)`,
	},
}
