package sqlstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// migration is one schema step; steps are applied in order and recorded in
// schema_migrations, so every instance sharing a database agrees on the schema.
type migration struct {
	sqlite   []string
	postgres []string
}

// The index tables keep one row per searchable value. Each has a lookup index
// that starts with the parameter code and ends with rid (so candidate sets
// come from the index alone) and an (rid, param) index used to replace a
// resource's rows on update and for correlated EXISTS checks.
var migrations = []migration{{
	sqlite: []string{
		`CREATE TABLE resources (
			pk INTEGER PRIMARY KEY,
			type TEXT NOT NULL,
			id TEXT NOT NULL,
			version INTEGER NOT NULL,
			updated INTEGER NOT NULL,
			deleted INTEGER NOT NULL DEFAULT 0,
			sort_family TEXT NOT NULL DEFAULT '',
			sort_given TEXT NOT NULL DEFAULT '',
			sort_name TEXT NOT NULL DEFAULT '',
			sort_birth TEXT NOT NULL DEFAULT '',
			UNIQUE (type, id))`,
		`CREATE TABLE resource_versions (
			rid INTEGER NOT NULL,
			version INTEGER NOT NULL,
			type TEXT NOT NULL,
			updated INTEGER NOT NULL,
			deleted INTEGER NOT NULL DEFAULT 0,
			body BLOB,
			PRIMARY KEY (rid, version))`,
		// WITHOUT ROWID: the primary key is the lookup index, one B-tree less per row.
		`CREATE TABLE idx_string (rid INTEGER NOT NULL, param INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
			PRIMARY KEY (param, norm, exact, rid)) WITHOUT ROWID`,
		`CREATE TABLE idx_token (rid INTEGER NOT NULL, param INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
			PRIMARY KEY (param, code, system, rid)) WITHOUT ROWID`,
		`CREATE TABLE idx_date (rid INTEGER NOT NULL, param INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
			PRIMARY KEY (param, lo, hi, rid)) WITHOUT ROWID`,
		`CREATE TABLE idx_ref (rid INTEGER NOT NULL, param INTEGER NOT NULL, target TEXT NOT NULL,
			PRIMARY KEY (param, target, rid)) WITHOUT ROWID`,
		`CREATE TABLE cond_keys (key TEXT PRIMARY KEY, type TEXT NOT NULL, rid INTEGER NOT NULL)`,
	},
	postgres: []string{
		`CREATE TABLE resources (
			pk BIGSERIAL PRIMARY KEY,
			type TEXT COLLATE "C" NOT NULL,
			id TEXT COLLATE "C" NOT NULL,
			version BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			deleted BOOLEAN NOT NULL DEFAULT FALSE,
			sort_family TEXT COLLATE "C" NOT NULL DEFAULT '',
			sort_given TEXT COLLATE "C" NOT NULL DEFAULT '',
			sort_name TEXT COLLATE "C" NOT NULL DEFAULT '',
			sort_birth TEXT COLLATE "C" NOT NULL DEFAULT '',
			UNIQUE (type, id))`,
		`CREATE TABLE resource_versions (
			rid BIGINT NOT NULL,
			version BIGINT NOT NULL,
			type TEXT COLLATE "C" NOT NULL,
			updated BIGINT NOT NULL,
			deleted BOOLEAN NOT NULL DEFAULT FALSE,
			body BYTEA,
			PRIMARY KEY (rid, version))`,
		`CREATE TABLE idx_string (rid BIGINT NOT NULL, param SMALLINT NOT NULL, norm TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL)`,
		`CREATE TABLE idx_token (rid BIGINT NOT NULL, param SMALLINT NOT NULL, system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL)`,
		`CREATE TABLE idx_date (rid BIGINT NOT NULL, param SMALLINT NOT NULL, lo BIGINT NOT NULL, hi BIGINT NOT NULL)`,
		`CREATE TABLE idx_ref (rid BIGINT NOT NULL, param SMALLINT NOT NULL, target TEXT COLLATE "C" NOT NULL)`,
		`CREATE TABLE cond_keys (key TEXT COLLATE "C" PRIMARY KEY, type TEXT NOT NULL, rid BIGINT NOT NULL)`,
		`CREATE INDEX idx_string_lookup ON idx_string (param, norm, rid)`,
		`CREATE INDEX idx_token_lookup ON idx_token (param, code, system, rid)`,
		`CREATE INDEX idx_date_lookup ON idx_date (param, lo, hi, rid)`,
		`CREATE INDEX idx_ref_lookup ON idx_ref (param, target, rid)`,
	},
}}

// commonIndexes are created by the first migration on both dialects.
var commonIndexes = []string{
	`CREATE INDEX resources_type_updated ON resources (type, updated)`,
	`CREATE INDEX resource_versions_type_updated ON resource_versions (type, updated)`,
	`CREATE INDEX idx_string_rid ON idx_string (rid, param)`,
	`CREATE INDEX idx_token_rid ON idx_token (rid, param)`,
	`CREATE INDEX idx_date_rid ON idx_date (rid, param)`,
	`CREATE INDEX idx_ref_rid ON idx_ref (rid, param)`,
	`CREATE INDEX cond_keys_rid ON cond_keys (rid)`,
}

// Migration 2: the matcher's blocking keys and its trained models.
var matchMigration = migration{
	sqlite: []string{
		`CREATE TABLE idx_match (key TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (key, rid)) WITHOUT ROWID`,
		`CREATE INDEX idx_match_rid ON idx_match (rid)`,
		`CREATE TABLE match_models (version INTEGER PRIMARY KEY, created INTEGER NOT NULL, note TEXT NOT NULL, body BLOB NOT NULL)`,
	},
	postgres: []string{
		`CREATE TABLE idx_match (key TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL, PRIMARY KEY (key, rid))`,
		`CREATE INDEX idx_match_rid ON idx_match (rid)`,
		`CREATE TABLE match_models (version BIGSERIAL PRIMARY KEY, created BIGINT NOT NULL, note TEXT NOT NULL, body BYTEA NOT NULL)`,
	},
}

func init() {
	migrations[0].sqlite = append(migrations[0].sqlite, commonIndexes...)
	migrations[0].postgres = append(migrations[0].postgres, commonIndexes...)
	migrations = append(migrations, matchMigration)
}

// migrate applies the missing migrations in one transaction. On PostgreSQL an
// advisory lock serialises instances that start at the same moment.
func migrate(ctx context.Context, db *gorm.DB, postgres bool) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if postgres {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(7419203)`).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`).Error; err != nil {
			return err
		}
		var applied int
		if err := tx.Raw(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied).Error; err != nil {
			return err
		}
		for v := applied; v < len(migrations); v++ {
			stmts := migrations[v].sqlite
			if postgres {
				stmts = migrations[v].postgres
			}
			for _, s := range stmts {
				if err := tx.Exec(s).Error; err != nil {
					return fmt.Errorf("migration %d: %w", v+1, err)
				}
			}
			if err := tx.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, v+1).Error; err != nil {
				return err
			}
		}
		return nil
	})
}
