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
// is waiting, runs each inside a savepoint of one transaction (a failing
// request rolls back only its own savepoint) and commits once, so concurrent
// writers share one fsync.
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

func (w *writer) run(batch []*writeReq) {
	errs := make([]error, len(batch))
	gtx := w.db.Begin()
	if gtx.Error != nil {
		for _, r := range batch {
			r.done <- registry.Internal(gtx.Error)
		}
		return
	}
	c := newConn(gtx, false, w.store.stmts)
	start := int64(-1) // rows changed on the connection before the group's first request
	if len(batch) > 1 {
		start = c.changes()
	}
	for i, r := range batch {
		// A request sees only what is committed, plus its own writes, when
		// none before it in this commit has written: then it may read its
		// candidates ahead on reader connections (prefetch.go). Asked only
		// by a request that would.
		clean := func() bool { return i == 0 || (start >= 0 && c.changes() == start) }
		errs[i] = w.runOne(gtx, c, r, clean)
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
}

// runOne runs one request inside a savepoint of the batch transaction.
func (w *writer) runOne(gtx *gorm.DB, c *conn, r *writeReq, clean func() bool) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if err := c.exec(r.ctx, "SAVEPOINT w"); err != nil {
		return registry.Internal(err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = registry.Internal(panicError{p})
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
