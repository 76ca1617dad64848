package alert

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's Prometheus collectors. The target label is a
// configured target name, so its values are fixed by the config.
type metrics struct {
	sent     *prometheus.CounterVec   // target, status
	delivery *prometheus.HistogramVec // target
	failures *prometheus.CounterVec   // target
	dropped  *prometheus.CounterVec   // target
	queue    *prometheus.GaugeVec     // target
	records  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_alerts_sent_total",
			Help: "Alerts delivered, by target and status (firing, resolved).",
		}, []string{"target", "status"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keytrail_alert_delivery_seconds",
			Help:    "Duration of one alert delivery attempt (one request), by target.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_alert_failures_total",
			Help: "Failed alert delivery attempts, by target.",
		}, []string{"target"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keytrail_alerts_undelivered_total",
			Help: "Alerts given up on (retries exhausted, permanent error, queue full, or closed), by target. Each is recorded with its error.",
		}, []string{"target"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keytrail_alert_queue_length",
			Help: "Alerts waiting for delivery (rate limited or retrying), by target.",
		}, []string{"target"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keytrail_alert_record_failures_total",
			Help: "Recorder calls that failed.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.sent, err = register(reg, m.sent)
	if err != nil {
		return nil, err
	}
	if m.delivery, err = register(reg, m.delivery); err != nil {
		return nil, err
	}
	if m.failures, err = register(reg, m.failures); err != nil {
		return nil, err
	}
	if m.dropped, err = register(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.queue, err = register(reg, m.queue); err != nil {
		return nil, err
	}
	if m.records, err = register(reg, m.records); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under its
// name so several notifiers can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
