package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus collectors. Labels take values from
// small fixed sets: sink names and sources come from the config, outcomes
// are accepted, duplicate, conflict and dead_letter.
type Metrics struct {
	records     *prometheus.CounterVec   // sink, source, outcome
	writes      *prometheus.HistogramVec // sink
	batch       *prometheus.HistogramVec // sink
	storeErrors *prometheus.CounterVec   // sink
	busErrors   *prometheus.CounterVec   // sink
	commitErrs  *prometheus.CounterVec   // sink
	polls       prometheus.Counter
	pollErrors  prometheus.Counter
}

// NewMetrics creates the pipeline's collectors and registers them with reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_sink_records_total",
			Help: "Provider records the sink stored, by sink, source and outcome (accepted, duplicate, conflict, dead_letter).",
		}, []string{"sink", "source", "outcome"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keytrail_sink_write_seconds",
			Help:    "Duration of one successful store write of a batch, by sink.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"sink"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keytrail_sink_batch_records",
			Help:    "Records per store write, by sink.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"sink"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_sink_store_errors_total",
			Help: "Store writes that failed and were retried, by sink.",
		}, []string{"sink"}),
		busErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_sink_bus_errors_total",
			Help: "Fetches from the bus that failed, by sink.",
		}, []string{"sink"}),
		commitErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_sink_commit_errors_total",
			Help: "Commits that failed after the store write (the records are delivered again), by sink.",
		}, []string{"sink"}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keytrail_correlator_polls_total",
			Help: "Polls of the store by the streaming correlator.",
		}),
		pollErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keytrail_correlator_poll_errors_total",
			Help: "Polls of the store by the streaming correlator that failed.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.writes, m.batch, m.storeErrors, m.busErrors, m.commitErrs, m.polls, m.pollErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) stored(sink string, res Results, n int, took time.Duration) {
	if m == nil {
		return
	}
	for k, r := range res {
		src := string(k.Source)
		m.records.WithLabelValues(sink, src, "accepted").Add(float64(r.Accepted))
		m.records.WithLabelValues(sink, src, "duplicate").Add(float64(r.Duplicates))
		m.records.WithLabelValues(sink, src, "conflict").Add(float64(r.Conflicts))
		m.records.WithLabelValues(sink, src, "dead_letter").Add(float64(r.DeadLetters))
	}
	m.writes.WithLabelValues(sink).Observe(took.Seconds())
	m.batch.WithLabelValues(sink).Observe(float64(n))
}

func (m *Metrics) storeError(sink string) {
	if m != nil {
		m.storeErrors.WithLabelValues(sink).Inc()
	}
}

func (m *Metrics) busError(sink string) {
	if m != nil {
		m.busErrors.WithLabelValues(sink).Inc()
	}
}

func (m *Metrics) commitError(sink string) {
	if m != nil {
		m.commitErrs.WithLabelValues(sink).Inc()
	}
}

func (m *Metrics) polled(err error) {
	if m == nil {
		return
	}
	m.polls.Inc()
	if err != nil {
		m.pollErrors.Inc()
	}
}
