// Package sqlstore implements registry.Store on SQLite (embedded, the default)
// and PostgreSQL (several idem instances on one database) through GORM.
package sqlstore

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"idem/registry"
)

// Store is a registry.Store over a SQL database.
type Store struct {
	read     *gorm.DB // reads: a pool of connections
	write    *gorm.DB // writes: on SQLite a single connection driven by writer
	writer   *writer  // nil on PostgreSQL
	stmts    *stmtCache
	postgres bool
	closed   sync.Once
	closeErr error
}

var _ registry.Store = (*Store)(nil)

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating and migrating if needed) the database dsn: a
// postgres:// URL, or a SQLite file path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		TranslateError:         true,
		SkipDefaultTransaction: true,
	}
}

// SQLite allows one writer at a time, and a deferred transaction cannot
// upgrade its read lock ("database is locked" under concurrency). So all
// writes go through one connection, owned by one goroutine that commits many
// requests together (group commit: one fsync for a batch). Reads use a pool of
// their own connections; WAL lets them run beside the writer.
func openSQLite(ctx context.Context, path string) (*Store, error) {
	// A plain path becomes a file: URI, in which '?' starts the options
	// and '#' ends the name: escaped, a directory named "a#1" is that
	// directory, not the file "a" beside it.
	base := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if strings.HasPrefix(path, "file:") {
		base = path
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	// The driver keeps each connection's last 64 statements prepared: the
	// readers' candidate and search queries and the writer's statements with
	// a varying number of values are otherwise compiled again on every call.
	common := "_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_stmt_cache_size=64"
	wdb, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriver, DSN: base + sep + common + "&_synchronous=FULL&_txlock=immediate"}), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wsql, err := wdb.DB()
	if err != nil {
		return nil, err
	}
	wsql.SetMaxOpenConns(1)
	wsql.SetConnMaxLifetime(0)
	if err := migrate(ctx, wdb, false); err != nil {
		wsql.Close()
		return nil, err
	}
	rdb, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriver, DSN: base + sep + common + "&mode=ro&_query_only=1"}), gormConfig())
	if err != nil {
		wsql.Close()
		return nil, err
	}
	rsql, _ := rdb.DB()
	rsql.SetMaxOpenConns(4 * runtime.GOMAXPROCS(0))
	rsql.SetMaxIdleConns(4 * runtime.GOMAXPROCS(0))
	stmts, err := newStmtCache(ctx, wsql, false)
	if err != nil {
		wsql.Close()
		rsql.Close()
		return nil, err
	}
	s := &Store{read: rdb, write: wdb, stmts: stmts}
	s.writer = newWriter(wdb, s)
	return s, nil
}

// sqliteDriver is mattn's driver with the connection settings the DSN cannot
// carry: a page cache of 128 MB for the one writer connection and 16 MB
// for each reader, 256 MB of memory-mapped reads, and WAL checkpoints every
// 16 MB rather than 4 MB (each checkpoint is an fsync of the database file
// under synchronous=FULL). Each connection has a cache of its own, so
// 256 MB apiece (as before) let a loaded registry's process grow past
// 2 GB; the operating system's file cache serves what these do not hold.
const sqliteDriver = "sqlite3_idem"

func init() {
	sql.Register(sqliteDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		cache := "PRAGMA cache_size = -131072"
		if readOnly(c) {
			cache = "PRAGMA cache_size = -16384"
		}
		for _, p := range []string{cache, "PRAGMA mmap_size = 268435456",
			"PRAGMA wal_autocheckpoint = 4096", "PRAGMA temp_store = MEMORY"} {
			if _, err := c.Exec(p, nil); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}})
}

// readOnly reports whether c is a reader connection (opened with
// _query_only).
func readOnly(c *sqlite3.SQLiteConn) bool {
	rows, err := c.Query("PRAGMA query_only", nil)
	if err != nil {
		return false
	}
	defer rows.Close()
	dest := make([]sqldriver.Value, 1)
	if rows.Next(dest) != nil {
		return false
	}
	n, _ := dest[0].(int64)
	return n == 1
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	if _, err := url.Parse(dsn); err != nil {
		return nil, fmt.Errorf("bad postgres DSN: %w", err)
	}
	db, err := gorm.Open(postgres.Open(dsn), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqldb, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(16)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	if err := migrate(ctx, db, true); err != nil {
		sqldb.Close()
		return nil, err
	}
	stmts, err := newStmtCache(ctx, sqldb, true)
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	// Reads get a pool of their own: a write transaction may read (the
	// matcher's term frequencies, the current model) while holding its
	// connection, so with one shared pool, writers waiting on each other's
	// locks could take every connection and leave the lock holder none.
	rdb, err := gorm.Open(postgres.Open(dsn), gormConfig())
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	rsql, err := rdb.DB()
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	rsql.SetMaxOpenConns(16)
	rsql.SetMaxIdleConns(16)
	rsql.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{read: rdb, write: db, postgres: true, stmts: stmts}, nil
}

// Close stops the writer and closes the connections. Later calls do nothing.
func (s *Store) Close() error {
	s.closed.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	if s.writer != nil {
		s.writer.stop()
	}
	s.stmts.close()
	var errs []error
	for _, db := range []*gorm.DB{s.read, s.write} {
		if sqldb, err := db.DB(); err == nil {
			errs = append(errs, sqldb.Close())
		}
		if s.read == s.write {
			break
		}
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqldb, err := s.read.DB()
	if err != nil {
		return err
	}
	return sqldb.PingContext(ctx)
}

// Write runs fn in one transaction. On SQLite it joins the writer's next
// group commit; on PostgreSQL it runs in its own transaction and is retried
// when it loses a race with another writer (possibly in another instance).
func (s *Store) Write(ctx context.Context, fn func(tx registry.Tx) error) error {
	if s.writer != nil {
		return s.writer.do(ctx, fn)
	}
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = s.write.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
			c := newConn(gtx, true, s.stmts)
			defer c.close()
			t := &tx{db: gtx, conn: c, store: s}
			if err := fn(t); err != nil {
				return err
			}
			return t.flush(ctx)
		})
		if !retryable(err) {
			return err
		}
		if werr := backoff(ctx, attempt); werr != nil {
			return werr
		}
	}
	return registry.Errorf(registry.EConflict, "write conflict persisted after %d attempts; try again", maxAttempts)
}

const maxAttempts = 12

func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1<<min(attempt, 6)) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
