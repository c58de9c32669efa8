package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/web/metrics"
)

// snapshotTTL is how long the metrics read from the database (review
// queue, links) are reused between scrapes.
const snapshotTTL = 15 * time.Second

// newMetrics builds the metrics of an instance: what the web layer counts,
// plus the database pool and the link tables read on scrape.
//
// The SQLite writer's queue is not exported: it is internal to the store
// (registry/sqlstore), and reaching it means changing the store.
func newMetrics(store *sqlstore.Store) (*metrics.Metrics, error) {
	m := metrics.New()
	db, err := store.ReadDB().DB()
	if err != nil {
		return nil, err
	}
	m.AddDB("read", db)
	m.Register(metrics.NewSnapshot("idem_review_queue_items",
		"Open review items (POSSIBLE_MATCH, POSSIBLE_DUPLICATE) by source type, match result and age.",
		[]string{"type", "match_result", "age"}, snapshotTTL, func(ctx context.Context) ([]metrics.Sample, error) {
			counts, err := store.ReviewCounts(ctx, time.Now())
			if err != nil {
				return nil, err
			}
			out := make([]metrics.Sample, len(counts))
			for i, c := range counts {
				out[i] = metrics.Sample{Labels: []string{c.SourceType, c.MatchResult, c.Age}, Value: float64(c.Items)}
			}
			return out, nil
		}))
	m.Register(metrics.NewSnapshot("idem_links",
		"Links between records and golden records by match result (the outcome of linking and of stewards' decisions).",
		[]string{"match_result"}, snapshotTTL, func(ctx context.Context) ([]metrics.Sample, error) {
			var out []metrics.Sample
			for _, r := range []string{registry.MatchResultMatch, registry.MatchResultPossible, registry.MatchResultNoMatch,
				registry.MatchResultPossibleDuplicate, registry.MatchResultRedirect} {
				page, err := store.QueryLinks(ctx, registry.LinkFilter{MatchResult: []string{r}, Count: 1})
				if err != nil {
					return nil, err
				}
				out = append(out, metrics.Sample{Labels: []string{r}, Value: float64(page.Total)})
			}
			return out, nil
		}))
	return m, nil
}

// metricsServer serves /metrics alone on addr (IDEM_METRICS_ADDR), without
// authentication: the address is meant to be reachable by the scraper only.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

func startMetricsServer(addr string, m *metrics.Metrics, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	ms := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan error, 1)}
	go func() { ms.done <- ms.srv.Serve(ln) }()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return ms, nil
}

// close stops the metrics server (nil: none).
func (ms *metricsServer) close(ctx context.Context) error {
	if ms == nil {
		return nil
	}
	err := ms.srv.Shutdown(ctx)
	if serr := <-ms.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
