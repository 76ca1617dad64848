package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
)

// Metrics are the server's Prometheus collectors. Labels take values from
// small fixed sets: route templates, status codes, sources, verdicts.
type Metrics struct {
	requests  *prometheus.CounterVec   // method, route, code
	latency   *prometheus.HistogramVec // method, route
	intake    *prometheus.CounterVec   // source, result
	publish   *prometheus.HistogramVec // source
	reportDur prometheus.Histogram
	reports   *prometheus.CounterVec // result
}

// StatsCacheTTL is how long the store-derived metrics are reused between
// scrapes (each scrape would otherwise count the correlations table).
const StatsCacheTTL = 15 * time.Second

// NewMetrics creates the server's collectors in reg; with a non-nil reader
// it also registers the store-derived gauges (verdicts of the current
// policy, dead letters, alerts, collector cursors).
func NewMetrics(reg prometheus.Registerer, reader Reader, now func() time.Time) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keytrail_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code."}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keytrail_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by method and route template.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)},
			[]string{"method", "route"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keytrail_ingest_records_total",
			Help: "Pushed deliveries by source and result: accepted (on the bus), rejected (malformed or too large), unauthenticated, invalid_token, bus_error."},
			[]string{"source", "result"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keytrail_intake_publish_seconds",
			Help: "Time for the bus to take a pushed delivery (durable), by source.", Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12)},
			[]string{"source"}),
		reportDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keytrail_report_duration_seconds",
			Help: "Time to write an evidence pack through the API.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keytrail_reports_total",
			Help: "Evidence packs started through the API, by result (done, failed)."}, []string{"result"}),
	}
	cs := []prometheus.Collector{m.requests, m.latency, m.intake, m.publish, m.reportDur, m.reports}
	if reader != nil {
		cs = append(cs, &storeCollector{r: reader, now: now})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

func (m *Metrics) request(method, route string, status int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(took.Seconds())
}

func (m *Metrics) intakeRecords(src model.Source, result string, n int) {
	m.intake.WithLabelValues(string(src), result).Add(float64(n))
}

func (m *Metrics) published(src model.Source, took time.Duration, err error) {
	if err == nil {
		m.publish.WithLabelValues(string(src)).Observe(took.Seconds())
	}
}

func (m *Metrics) reportDone(took time.Duration, err error) {
	if err != nil {
		m.reports.WithLabelValues("failed").Inc()
		return
	}
	m.reports.WithLabelValues("done").Inc()
	m.reportDur.Observe(took.Seconds())
}

// storeCollector exports counts read from the store at scrape time
// (cached for StatsCacheTTL), so they hold whichever process wrote them.
type storeCollector struct {
	r   Reader
	now func() time.Time

	mu    sync.Mutex
	at    time.Time
	stats evidence.Stats
	err   error
}

var (
	descCorrelations = prometheus.NewDesc("keytrail_correlations",
		"Correlations of the current policy version, by verdict.", []string{"verdict"}, nil)
	descDeadLetters = prometheus.NewDesc("keytrail_dead_letters",
		"Records rejected into the dead-letter table, by source.", []string{"source"}, nil)
	descAlerts = prometheus.NewDesc("keytrail_alerts",
		"Alert deliveries recorded, by status (firing, resolved) and result (sent, failed).", []string{"status", "result"}, nil)
	descCursorAge = prometheus.NewDesc("keytrail_cursor_lag_seconds",
		"Seconds since each collector's cursor last moved, by collector (<source>/<instance>).", []string{"collector"}, nil)
	descStatsUp = prometheus.NewDesc("keytrail_store_stats_up",
		"1 when the last read of the store-derived metrics succeeded.", nil, nil)
)

func (s *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCorrelations, descDeadLetters, descAlerts, descCursorAge, descStatsUp} {
		ch <- d
	}
}

func (s *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	if s.at.IsZero() || time.Since(s.at) > StatsCacheTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.stats, s.err = s.r.Stats(ctx)
		cancel()
		s.at = time.Now()
	}
	st, err := s.stats, s.err
	s.mu.Unlock()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descStatsUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStatsUp, prometheus.GaugeValue, 1)
	for _, v := range model.Verdicts {
		ch <- prometheus.MustNewConstMetric(descCorrelations, prometheus.GaugeValue, float64(st.Verdicts[v]), string(v))
	}
	for src, n := range st.DeadLetters {
		ch <- prometheus.MustNewConstMetric(descDeadLetters, prometheus.GaugeValue, float64(n), string(src))
	}
	type key struct{ status, result string }
	alerts := map[key]int64{}
	for _, a := range st.Alerts {
		r := "failed"
		if a.Sent {
			r = "sent"
		}
		alerts[key{a.Status, r}] += a.N
	}
	for k, n := range alerts {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(n), k.status, k.result)
	}
	now := s.now()
	for _, c := range st.Cursors {
		ch <- prometheus.MustNewConstMetric(descCursorAge, prometheus.GaugeValue, now.Sub(c.UpdatedAt).Seconds(), c.Collector)
	}
}
