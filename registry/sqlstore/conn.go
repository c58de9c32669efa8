package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// conn runs the write path's statements directly on the transaction's
// connection: GORM builds every statement expression by expression, which
// costs more than SQLite itself for the many small rows of an ingest.
// Statements are prepared once per transaction.
type conn struct {
	pool  gorm.ConnPool
	pg    bool
	cache *stmtCache
	stmts map[string]*sql.Stmt
	// nextPK is the next resources.pk to assign on SQLite, where the single
	// writer holds the write lock for the whole transaction; 0 until read.
	nextPK int64
	// next holds the next id to assign per table (mdm_ops, mdm_links) on
	// SQLite, for the same reason: plain INSERTs with the id given cost a
	// third of INSERT … RETURNING, whose statement journal and reset made
	// them the dearest statements of a linked write.
	next map[string]int64
}

// nextIDs are the queries of the next free id of the tables whose ids
// are assigned here. mdm_links is AUTOINCREMENT: ids of deleted links are
// never reused, so sqlite_sequence counts too.
var nextIDs = map[string]string{
	"mdm_ops": `SELECT COALESCE(MAX(id), 0) + 1 FROM mdm_ops`,
	"mdm_links": `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'mdm_links'), 0),
		COALESCE((SELECT MAX(id) FROM mdm_links), 0)) + 1`,
}

// newID assigns the next id of table (SQLite only).
func (c *conn) newID(ctx context.Context, table string) (int64, error) {
	if c.next == nil {
		c.next = map[string]int64{}
	}
	if c.next[table] == 0 {
		var n int64
		if err := c.pool.QueryRowContext(ctx, nextIDs[table]).Scan(&n); err != nil {
			return 0, err
		}
		c.next[table] = n
	}
	c.next[table]++
	return c.next[table] - 1, nil
}

// newPK assigns a resources.pk without a round trip per row (SQLite only).
func (c *conn) newPK(ctx context.Context) (int64, error) {
	if c.nextPK == 0 {
		if err := c.pool.QueryRowContext(ctx, `SELECT COALESCE(MAX(pk), 0) + 1 FROM resources`).Scan(&c.nextPK); err != nil {
			return 0, err
		}
	}
	c.nextPK++
	return c.nextPK - 1, nil
}

func newConn(db *gorm.DB, pg bool, cache *stmtCache) *conn {
	return &conn{pool: db.Statement.ConnPool, pg: pg, cache: cache, stmts: map[string]*sql.Stmt{}}
}

// stmtCache holds the write path's statements, prepared once on the
// database when the store opens; a transaction binds them to its connection
// without preparing again. They are all prepared up front because preparing
// on the database needs a free connection, and during a SQLite write the one
// writer connection is the transaction's.
type stmtCache struct {
	m map[string]*sql.Stmt // read-only after newStmtCache
}

func newStmtCache(ctx context.Context, db *sql.DB, pg bool) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	rb := &conn{pg: pg}
	for _, q := range writeStatements() {
		st, err := db.PrepareContext(ctx, rb.rebind(q))
		if err != nil {
			c.close()
			return nil, fmt.Errorf("prepare %.60s: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
}

// close releases the transaction's bindings of the prepared statements.
func (c *conn) close() {
	for q, st := range c.stmts {
		if _, shared := c.cache.m[q]; !shared || st != c.cache.m[q] {
			st.Close()
		}
	}
}

func (c *conn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	tx, isTx := c.pool.(*sql.Tx)
	dbStmt, cached := c.cache.m[query]
	var st *sql.Stmt
	switch {
	case cached && isTx:
		st = tx.StmtContext(ctx, dbStmt)
	case cached:
		st = dbStmt
	default:
		var err error
		if st, err = c.pool.PrepareContext(ctx, c.rebind(query)); err != nil {
			return nil, err
		}
	}
	c.stmts[query] = st
	return st, nil
}

func (c *conn) exec(ctx context.Context, query string, args ...any) error {
	_, err := c.pool.ExecContext(ctx, c.rebind(query), args...)
	return err
}

// execPrepared runs a statement that repeats with the same shape.
func (c *conn) execPrepared(ctx context.Context, query string, args ...any) error {
	st, err := c.prepared(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// execCount runs a prepared statement and returns the rows it changed.
func (c *conn) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := c.prepared(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// returningID runs an INSERT/UPDATE ... RETURNING pk; ok is false when no row
// was affected.
func (c *conn) returningID(ctx context.Context, query string, args ...any) (id int64, ok bool, err error) {
	st, err := c.prepared(ctx, query)
	if err != nil {
		return 0, false, err
	}
	err = st.QueryRowContext(ctx, args...).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, false, nil
	}
	return id, err == nil, err
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...
func (c *conn) rebind(query string) string {
	if !c.pg || !strings.Contains(query, "?") {
		return query
	}
	var sb strings.Builder
	sb.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(query[i])
	}
	return sb.String()
}

// query runs a read inside the transaction with a statement prepared once
// per transaction and shape; a slice argument after "IN ?" is expanded to
// one placeholder per element, as GORM does. GORM's Raw prepares the
// statement again on every call, which cost a linked write more than the
// reads themselves.
func (c *conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = expandIn(query, args)
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// expandIn rewrites each "?" whose argument is a []string or []int64 into
// "(?, ?, …)" and flattens the argument.
func expandIn(query string, args []any) (string, []any) {
	expand := false
	for _, a := range args {
		switch a.(type) {
		case []string, []int64:
			expand = true
		}
	}
	if !expand {
		return query, args
	}
	var sb strings.Builder
	out := make([]any, 0, len(args)+8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' || n >= len(args) {
			sb.WriteByte(query[i])
			continue
		}
		a := args[n]
		n++
		var items []any
		switch v := a.(type) {
		case []string:
			for _, x := range v {
				items = append(items, x)
			}
		case []int64:
			for _, x := range v {
				items = append(items, x)
			}
		default:
			sb.WriteByte('?')
			out = append(out, a)
			continue
		}
		if len(items) == 0 {
			sb.WriteString("(NULL)")
			continue
		}
		sb.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", len(items)), ", ") + ")")
		out = append(out, items...)
	}
	return sb.String(), out
}

// changes is SQLite's count of rows this connection has inserted, updated
// or deleted since it opened (total_changes()); -1 when it cannot be read.
func (c *conn) changes() int64 {
	rs, err := c.query(context.Background(), `SELECT total_changes()`)
	if err != nil {
		return -1
	}
	defer rs.Close()
	var n int64 = -1
	if rs.Next() {
		rs.Scan(&n)
	}
	return n
}
