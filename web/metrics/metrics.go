// Package metrics keeps idem's Prometheus metrics in a registry of its own
// (not the global one, so parallel tests and several instances in one
// process do not collide) and serves them in the exposition format. It
// imports nothing of the project: the web layer, app and, later, linkage
// each call the few methods they need.
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of idem's metrics. Its methods are safe for concurrent
// use; a nil *Metrics records nothing.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	writes   *prometheus.CounterVec
	links    *prometheus.CounterVec
	jobDone  *prometheus.GaugeVec
	jobTotal *prometheus.GaugeVec
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idem_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idem_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route pattern and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idem_writes_total",
			Help: "Successful FHIR writes by resource type and interaction (create, update, delete, transaction), counted from the responses.",
		}, []string{"type", "interaction"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idem_link_decisions_total",
			Help: "Link decisions by resource type and outcome (match result), as the linker reports them.",
		}, []string{"type", "outcome"}),
		jobDone: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idem_job_done",
			Help: "Units of work a background job has done (e.g. demo resources loaded).",
		}, []string{"job"}),
		jobTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idem_job_total",
			Help: "Units of work a background job has to do.",
		}, []string{"job"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.writes, m.links, m.jobDone, m.jobTotal,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request is one served HTTP request as the web layer saw it.
type Request struct {
	Method   string
	Route    string // the route pattern (/fhir/:type/:id), never the raw path
	Type     string // the FHIR resource type of a /fhir/:type route, or ""
	Status   int
	Duration time.Duration
}

// ObserveRequest counts r and its latency, and a successful write.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	status := strconv.Itoa(r.Status)
	m.requests.WithLabelValues(r.Method, r.Route, status).Inc()
	m.latency.WithLabelValues(r.Method, r.Route, status).Observe(r.Duration.Seconds())
	if r.Status < 300 {
		if typ, interaction := writeOf(r); interaction != "" {
			m.writes.WithLabelValues(typ, interaction).Inc()
		}
	}
}

// writeOf names the FHIR write a request is, if any: creates, updates and
// deletes of a type (plain or conditional), and Bundles. Searches by POST
// and operations ($match, $mdm-…) are reads or counted elsewhere.
func writeOf(r Request) (typ, interaction string) {
	if r.Route == "/fhir/" || r.Route == "/fhir" {
		if r.Method == http.MethodPost {
			return "Bundle", "transaction"
		}
		return "", ""
	}
	if r.Type == "" || strings.Contains(r.Route, "$") || strings.Contains(r.Route, "_search") || strings.Contains(r.Route, "_history") {
		return "", ""
	}
	switch r.Method {
	case http.MethodPost:
		return r.Type, "create"
	case http.MethodPut:
		return r.Type, "update"
	case http.MethodDelete:
		return r.Type, "delete"
	}
	return "", ""
}

// Link counts one link decision of the linker: typ is the record's resource
// type, outcome its match result (MATCH, POSSIBLE_MATCH, NO_MATCH, …).
func (m *Metrics) Link(typ, outcome string) {
	if m == nil {
		return
	}
	m.links.WithLabelValues(typ, outcome).Inc()
}

// Progress reports how far a background job is: done of total units.
func (m *Metrics) Progress(job string, done, total int) {
	if m == nil {
		return
	}
	m.jobDone.WithLabelValues(job).Set(float64(done))
	m.jobTotal.WithLabelValues(job).Set(float64(total))
}

// AddDB exports the connection pool statistics of db (sql.DBStats) with
// the label db_name=name.
func (m *Metrics) AddDB(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Register adds another collector (e.g. a Snapshot).
func (m *Metrics) Register(c prometheus.Collector) {
	m.reg.MustRegister(c)
}
