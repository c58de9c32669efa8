package registry

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// AuditQueue records the AuditEvents of reads and queries (BALP's read and
// query events) off the request path: Add never blocks, events are written
// in batches — every Every, or as soon as Batch are waiting — each batch in
// one write transaction. When the queue is full an event is dropped and
// counted; the drops are logged once per flush. Close writes what is left.
type AuditQueue struct {
	auditor *Auditor
	log     *slog.Logger
	batch   int
	every   time.Duration
	ch      chan AuditRecord
	dropped atomic.Int64
	lost    atomic.Int64 // dropped since the last log line
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// AuditQueueOptions bound an AuditQueue; zero values take the defaults.
type AuditQueueOptions struct {
	Size  int           // events held at most (default 10,000)
	Batch int           // events per write transaction (default 500)
	Every time.Duration // flush interval (default 1s)
}

// NewAuditQueue starts a queue writing through a; Close stops it.
func NewAuditQueue(a *Auditor, opts AuditQueueOptions, log *slog.Logger) *AuditQueue {
	if opts.Size <= 0 {
		opts.Size = 10000
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Every <= 0 {
		opts.Every = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &AuditQueue{auditor: a, log: log, batch: opts.Batch, every: opts.Every,
		ch: make(chan AuditRecord, opts.Size), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// Add queues e without waiting. The agent defaults to ActorFrom(ctx) and
// Recorded to now, both taken here, at the time of the read. It reports
// false when the queue was full (or closed) and e was dropped.
func (q *AuditQueue) Add(ctx context.Context, e AuditRecord) bool {
	if q == nil {
		return false
	}
	if e.Agent.Name == "" {
		e.Agent = ActorFrom(ctx)
	}
	if e.Recorded.IsZero() {
		e.Recorded = q.auditor.w.Time()
	}
	select {
	case <-q.stop:
	default:
		select {
		case q.ch <- e:
			return true
		default:
		}
	}
	q.dropped.Add(1)
	q.lost.Add(1)
	return false
}

// Dropped returns how many events were dropped since the queue started.
func (q *AuditQueue) Dropped() int64 { return q.dropped.Load() }

// Close stops taking events and writes those queued; it is safe to call
// more than once, and on a nil queue.
func (q *AuditQueue) Close() {
	if q == nil {
		return
	}
	q.once.Do(func() { close(q.stop) })
	<-q.done
}

// run gathers events into batches until Close.
func (q *AuditQueue) run() {
	defer close(q.done)
	tick := time.NewTicker(q.every)
	defer tick.Stop()
	var buf []AuditRecord
	for {
		select {
		case e := <-q.ch:
			buf = append(buf, e)
			if len(buf) >= q.batch {
				buf = q.flush(buf)
			}
		case <-tick.C:
			buf = q.flush(buf)
		case <-q.stop:
			for {
				select {
				case e := <-q.ch:
					buf = append(buf, e)
					if len(buf) >= q.batch {
						buf = q.flush(buf)
					}
				default:
					q.flush(buf)
					return
				}
			}
		}
	}
}

// flush writes buf in one transaction and returns it emptied.
func (q *AuditQueue) flush(buf []AuditRecord) []AuditRecord {
	if n := q.lost.Swap(0); n > 0 {
		q.log.Warn("read audit queue full: events dropped", "dropped", n, "total_dropped", q.dropped.Load())
	}
	if len(buf) == 0 {
		return buf
	}
	ctx := WithActor(context.Background(), SystemActor("audit"))
	err := q.auditor.store.Write(ctx, func(tx Tx) error {
		for _, e := range buf {
			if _, err := q.auditor.RecordTx(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		q.dropped.Add(int64(len(buf)))
		q.log.Error("read audit: a batch could not be written", "events", len(buf), "err", err)
	}
	return buf[:0]
}
