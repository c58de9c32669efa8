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

// Migration 4: the matcher's compact features of each current version,
// read with the candidates so they are scored without their JSON.
var recordMigration = migration{
	sqlite:   []string{`CREATE TABLE match_records (rid INTEGER PRIMARY KEY, rec BLOB NOT NULL)`},
	postgres: []string{`CREATE TABLE match_records (rid BIGINT PRIMARY KEY, rec BYTEA NOT NULL)`},
}

// Migration 5: how many records hold each blocking key, kept by triggers
// on idx_match, so blocking learns whether a key is rare, common or capped
// in one indexed lookup instead of counting its entries on every match.
var keyCountMigration = migration{
	sqlite: []string{
		`CREATE TABLE match_key_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO match_key_counts (key, n) SELECT key, COUNT(*) FROM idx_match GROUP BY key`,
		`CREATE TRIGGER idx_match_counted AFTER INSERT ON idx_match BEGIN
			INSERT INTO match_key_counts (key, n) VALUES (NEW.key, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1;
		END`,
		`CREATE TRIGGER idx_match_uncounted AFTER DELETE ON idx_match BEGIN
			UPDATE match_key_counts SET n = n - 1 WHERE key = OLD.key;
		END`,
	},
	postgres: []string{
		`CREATE TABLE match_key_counts (key TEXT COLLATE "C" PRIMARY KEY, n BIGINT NOT NULL)`,
		`INSERT INTO match_key_counts (key, n) SELECT key, COUNT(*) FROM idx_match GROUP BY key`,
		`CREATE FUNCTION idx_match_count() RETURNS trigger LANGUAGE plpgsql AS $f$
		BEGIN
			IF TG_OP = 'INSERT' THEN
				INSERT INTO match_key_counts (key, n) VALUES (NEW.key, 1) ON CONFLICT (key) DO UPDATE SET n = match_key_counts.n + 1;
			ELSE
				UPDATE match_key_counts SET n = n - 1 WHERE key = OLD.key;
			END IF;
			RETURN NULL;
		END $f$`,
		`CREATE TRIGGER idx_match_counted AFTER INSERT OR DELETE ON idx_match FOR EACH ROW EXECUTE FUNCTION idx_match_count()`,
	},
}

// Migration 3: the MDM links between source and golden records, their
// events (kept forever) and the linking operations that can be undone.
// Link ids are never reused (AUTOINCREMENT on SQLite) because events name
// them after the link is gone; "before" is quoted as SQLite's trigger keyword.
var linkMigration = migration{
	sqlite: []string{
		`CREATE TABLE mdm_links (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			golden_type TEXT NOT NULL,
			golden_id TEXT NOT NULL,
			source_type TEXT NOT NULL,
			source_id TEXT NOT NULL,
			match_result TEXT NOT NULL,
			link_source TEXT NOT NULL,
			score REAL NOT NULL DEFAULT 0,
			grade TEXT NOT NULL DEFAULT '',
			rule_version TEXT NOT NULL DEFAULT '',
			evidence BLOB,
			eid_match INTEGER NOT NULL DEFAULT 0,
			new_golden INTEGER NOT NULL DEFAULT 0,
			created INTEGER NOT NULL,
			updated INTEGER NOT NULL,
			UNIQUE (golden_type, golden_id, source_type, source_id))`,
		`CREATE TABLE mdm_link_events (
			id INTEGER PRIMARY KEY,
			op_id INTEGER NOT NULL,
			link_id INTEGER NOT NULL,
			golden_type TEXT NOT NULL,
			golden_id TEXT NOT NULL,
			source_type TEXT NOT NULL,
			source_id TEXT NOT NULL,
			match_result TEXT NOT NULL,
			link_source TEXT NOT NULL,
			score REAL NOT NULL DEFAULT 0,
			grade TEXT NOT NULL DEFAULT '',
			rule_version TEXT NOT NULL DEFAULT '',
			evidence BLOB,
			eid_match INTEGER NOT NULL DEFAULT 0,
			new_golden INTEGER NOT NULL DEFAULT 0,
			created INTEGER NOT NULL,
			updated INTEGER NOT NULL,
			actor TEXT NOT NULL,
			reason TEXT NOT NULL,
			at INTEGER NOT NULL)`,
		`CREATE TABLE mdm_ops (
			id INTEGER PRIMARY KEY,
			kind TEXT NOT NULL,
			actor TEXT NOT NULL,
			reason TEXT NOT NULL,
			at INTEGER NOT NULL,
			"before" BLOB,
			undoes INTEGER NOT NULL DEFAULT 0,
			undone_by INTEGER NOT NULL DEFAULT 0)`,
	},
	postgres: []string{
		`CREATE TABLE mdm_links (
			id BIGSERIAL PRIMARY KEY,
			golden_type TEXT COLLATE "C" NOT NULL,
			golden_id TEXT COLLATE "C" NOT NULL,
			source_type TEXT COLLATE "C" NOT NULL,
			source_id TEXT COLLATE "C" NOT NULL,
			match_result TEXT COLLATE "C" NOT NULL,
			link_source TEXT COLLATE "C" NOT NULL,
			score DOUBLE PRECISION NOT NULL DEFAULT 0,
			grade TEXT NOT NULL DEFAULT '',
			rule_version TEXT NOT NULL DEFAULT '',
			evidence BYTEA,
			eid_match BOOLEAN NOT NULL DEFAULT FALSE,
			new_golden BOOLEAN NOT NULL DEFAULT FALSE,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			UNIQUE (golden_type, golden_id, source_type, source_id))`,
		`CREATE TABLE mdm_link_events (
			id BIGSERIAL PRIMARY KEY,
			op_id BIGINT NOT NULL,
			link_id BIGINT NOT NULL,
			golden_type TEXT COLLATE "C" NOT NULL,
			golden_id TEXT COLLATE "C" NOT NULL,
			source_type TEXT COLLATE "C" NOT NULL,
			source_id TEXT COLLATE "C" NOT NULL,
			match_result TEXT COLLATE "C" NOT NULL,
			link_source TEXT COLLATE "C" NOT NULL,
			score DOUBLE PRECISION NOT NULL DEFAULT 0,
			grade TEXT NOT NULL DEFAULT '',
			rule_version TEXT NOT NULL DEFAULT '',
			evidence BYTEA,
			eid_match BOOLEAN NOT NULL DEFAULT FALSE,
			new_golden BOOLEAN NOT NULL DEFAULT FALSE,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			actor TEXT NOT NULL,
			reason TEXT NOT NULL,
			at BIGINT NOT NULL)`,
		`CREATE TABLE mdm_ops (
			id BIGSERIAL PRIMARY KEY,
			kind TEXT COLLATE "C" NOT NULL,
			actor TEXT NOT NULL,
			reason TEXT NOT NULL,
			at BIGINT NOT NULL,
			"before" BYTEA,
			undoes BIGINT NOT NULL DEFAULT 0,
			undone_by BIGINT NOT NULL DEFAULT 0)`,
	},
}

// linkIndexes are created by the link migration on both dialects.
var linkIndexes = []string{
	`CREATE INDEX mdm_links_source ON mdm_links (source_type, source_id)`,
	`CREATE INDEX mdm_links_review ON mdm_links (match_result, created)`,
	`CREATE INDEX mdm_links_golden ON mdm_links (golden_id)`,
	`CREATE INDEX mdm_link_events_golden ON mdm_link_events (golden_id)`,
	`CREATE INDEX mdm_link_events_source ON mdm_link_events (source_id)`,
}

func init() {
	migrations[0].sqlite = append(migrations[0].sqlite, commonIndexes...)
	migrations[0].postgres = append(migrations[0].postgres, commonIndexes...)
	linkMigration.sqlite = append(linkMigration.sqlite, linkIndexes...)
	linkMigration.postgres = append(linkMigration.postgres, linkIndexes...)
	migrations = append(migrations, matchMigration, linkMigration, recordMigration, keyCountMigration, bulkMigration)
	migrations = append(migrations, exchangeMigration)
	migrations = append(migrations, termMigration)
	migrations = append(migrations, pushMigration)
	migrations = append(migrations, modelStateMigration)
	migrations = append(migrations, exchange2Migration)
	migrations = append(migrations, policyMigration)
	PolicyMigration = len(migrations)
	migrations = append(migrations, secretsMigration)
	migrations = append(migrations, keyCountDropMigration)
	migrations = append(migrations, typeOrderMigration)
	migrations = append(migrations, leaseMigration)
	migrations = append(migrations, notifiedMigration)
}

// PolicyMigration is the number of the migration that made policy's tables
// the store's (upgrade tests rebuild a database from before it).
var PolicyMigration int

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

// Migration 14: blocking key counts are read from idx_match itself
// (countKeysSQL), counted up to registry.KeyCountLimit, instead of kept
// by triggers in match_key_counts. Each written key cost an upsert into
// that table at a random place, as costly as the key's own index entry,
// and both grew with the registry: the trigger was about three fifths of
// the time a linked write spent inserting its blocking keys.
var keyCountDropMigration = migration{
	sqlite: []string{
		`DROP TRIGGER IF EXISTS idx_match_counted`,
		`DROP TRIGGER IF EXISTS idx_match_uncounted`,
		`DROP TABLE IF EXISTS match_key_counts`,
	},
	postgres: []string{
		`DROP TRIGGER IF EXISTS idx_match_counted ON idx_match`,
		`DROP FUNCTION IF EXISTS idx_match_count()`,
		`DROP TABLE IF EXISTS match_key_counts`,
	},
}

// typeOrderMigration indexes the resources of a type in the order stored.
// A search of one type in its default order (pk, keyset paged: a client's
// paging, the records a re-match or a training reads) had only the index
// on (type, updated), so SQLite read every record of the type and sorted
// them, on every page: at 1,000,000 Patients a page of 1,000 cost seconds
// and reading the type's ids took over four minutes. An index on type
// alone holds the rowid after it, so the page is a range of it.
var typeOrderMigration = migration{
	sqlite:   []string{`CREATE INDEX resources_type_pk ON resources (type)`},
	postgres: []string{`CREATE INDEX resources_type_pk ON resources (type, pk)`},
}
