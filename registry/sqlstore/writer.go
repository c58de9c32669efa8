package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"idem/registry"
)

// maxBatch bounds how many requests share one SQLite commit.
const maxBatch = 512

type writeReq struct {
	ctx  context.Context
	fn   func(registry.Tx) error
	done chan error
}

// writer owns SQLite's single write connection. It takes every request that
// is waiting, runs them in one transaction and commits once, so concurrent
// writers share one fsync; a failing request's writes are undone and the
// others' kept (see run). Savepoints are taken only when a request of the
// batch has failed: a savepoint costs a copy of every page the
// request changes (SQLite's sub-journal, kept in memory), freed at its
// release; for a Bundle of 1,000 linked records that is tens of megabytes
// and about a tenth of the writer's CPU.
type writer struct {
	db    *gorm.DB
	store *Store
	reqs  chan *writeReq
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newWriter(db *gorm.DB, s *Store) *writer {
	w := &writer{db: db, store: s, reqs: make(chan *writeReq, maxBatch), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

var errClosed = errors.New("store is closed")

func (w *writer) do(ctx context.Context, fn func(registry.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the request is carried out even if the caller gives up:
	// waiting for the commit keeps "acknowledged" meaning "durable".
	return <-req.done
}

func (w *writer) stop() {
	close(w.quit)
	w.wg.Wait()
}

func (w *writer) loop() {
	defer w.wg.Done()
	for {
		select {
		case req := <-w.reqs:
			w.run(w.collect(req))
		case <-w.quit:
			w.drain()
			return
		}
	}
}

// drain fails requests still queued at shutdown.
func (w *writer) drain() {
	for {
		select {
		case req := <-w.reqs:
			req.done <- errClosed
		default:
			return
		}
	}
}

func (w *writer) collect(first *writeReq) []*writeReq {
	batch := []*writeReq{first}
	for len(batch) < maxBatch {
		select {
		case req := <-w.reqs:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// run carries out a batch in one transaction. A batch of several requests
// first runs them one after another without savepoints; if one fails, the
// transaction is rolled back and the batch runs again with each request in
// a savepoint of its own, so only the failing one's writes go. Requests can
// be run again: their inputs are prepared outside the write (PostgreSQL
// retries them after serialization failures too).
func (w *writer) run(batch []*writeReq) {
	if len(batch) > 1 && w.attempt(batch, false) {
		return
	}
	w.attempt(batch, true)
}

// attempt runs batch in one transaction and answers every request, with
// each request in a savepoint when savepoints is set and the batch holds
// more than one. Without savepoints, when a request fails it rolls back,
// answers none and returns false.
func (w *writer) attempt(batch []*writeReq, savepoints bool) bool {
	errs := make([]error, len(batch))
	gtx := w.db.Begin()
	if gtx.Error != nil {
		for _, r := range batch {
			r.done <- registry.Internal(gtx.Error)
		}
		return true
	}
	c := newConn(gtx, false, w.store.stmts)
	start := int64(-1) // rows changed on the connection before the group's first request
	if len(batch) > 1 {
		start = c.changes()
	}
	alone := len(batch) == 1
	for i, r := range batch {
		// A request sees only what is committed, plus its own writes, when
		// none before it in this commit has written: then it may read its
		// candidates ahead on reader connections (prefetch.go). Asked only
		// by a request that would.
		clean := func() bool { return i == 0 || (start >= 0 && c.changes() == start) }
		errs[i] = w.runOne(gtx, c, r, clean, savepoints && !alone)
		if errs[i] != nil && (alone || !savepoints) {
			c.close()
			gtx.Rollback()
			if alone {
				r.done <- errs[i] // its writes are gone
				return true
			}
			return false
		}
	}
	c.close()
	if err := gtx.Commit().Error; err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = registry.Internal(err)
			}
		}
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
	return true
}

// runOne runs one request of the batch transaction, inside a savepoint
// when savepoint is set; without one the caller rolls back the
// transaction if it fails.
func (w *writer) runOne(gtx *gorm.DB, c *conn, r *writeReq, clean func() bool, savepoint bool) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if savepoint {
		if err := c.exec(r.ctx, "SAVEPOINT w"); err != nil {
			return registry.Internal(err)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = registry.Internal(panicError{p})
		}
		if !savepoint {
			return
		}
		if err != nil {
			c.exec(context.Background(), "ROLLBACK TO w")
		}
		c.exec(context.Background(), "RELEASE w")
	}()
	t := &tx{db: gtx.WithContext(r.ctx), conn: c, store: w.store, clean: clean}
	defer t.stopAhead()
	if err := r.fn(t); err != nil {
		return err
	}
	return t.flush(r.ctx)
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("panic in write transaction: %v", p.v) }

// retryable reports whether a write lost a race and may be run again.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if registry.IsRetry(err) || errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "23505": // serialization failure, deadlock, unique violation
			return true
		}
	}
	return false
}
