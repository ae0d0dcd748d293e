package broker

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric label values for how a verification was decided.
const (
	pathCache  = "cache"
	pathLocal  = "local"
	pathPlugin = "plugin"

	outcomeAccepted    = "accepted"
	outcomeRejected    = "rejected"
	outcomeUnavailable = "unavailable"
)

type metrics struct {
	verifications *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	restarts      *prometheus.CounterVec
	pluginUp      *prometheus.GaugeVec
	keyUpdates    *prometheus.CounterVec
	tokenExpiry   *expiryCollector
	reloads       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_verifications_total",
			Help: "Token verifications by plugin, outcome (accepted, rejected, unavailable) and path (cache, local, plugin).",
		}, []string{"plugin", "outcome", "path"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slimid_verify_duration_seconds",
			Help:    "Verification latency by plugin and path.",
			Buckets: []float64{1e-6, 5e-6, 25e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 25e-3, 100e-3, 1},
		}, []string{"plugin", "path"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_plugin_restarts_total",
			Help: "Restarts of crashed plugins by the supervisor.",
		}, []string{"plugin"}),
		pluginUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slimid_plugin_up",
			Help: "1 while the plugin has a serving instance.",
		}, []string{"plugin"}),
		keyUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_plugin_key_updates_total",
			Help: "Key snapshots published by plugins.",
		}, []string{"plugin"}),
		tokenExpiry: &expiryCollector{desc: prometheus.NewDesc(
			"slimid_token_expiry_seconds",
			"Seconds until the last token handed out by the plugin expires (negative once expired).",
			[]string{"plugin"}, nil)},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_reloads_total",
			Help: "Configuration reloads by result (ok, failed).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.verifications, m.latency, m.restarts, m.pluginUp, m.keyUpdates, m.tokenExpiry, m.reloads)
	}
	return m
}

// expiryCollector reports time to expiry at scrape time, so the value is
// never stale.
type expiryCollector struct {
	desc    *prometheus.Desc
	expires sync.Map // plugin name -> time.Time
}

func (c *expiryCollector) set(plugin string, t time.Time) { c.expires.Store(plugin, t) }
func (c *expiryCollector) forget(plugin string)           { c.expires.Delete(plugin) }

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	c.expires.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, time.Until(v.(time.Time)).Seconds(), k.(string))
		return true
	})
}

// slotMetrics are one plugin's verification series, resolved once so the
// hot path does not hash label values on every call.
type slotMetrics struct {
	verifications map[[2]string]prometheus.Counter // [outcome, path]
	latency       map[string]prometheus.Observer   // by path
}

func (m *metrics) forPlugin(name string) slotMetrics {
	sm := slotMetrics{verifications: map[[2]string]prometheus.Counter{}, latency: map[string]prometheus.Observer{}}
	for _, path := range []string{pathCache, pathLocal, pathPlugin} {
		sm.latency[path] = m.latency.WithLabelValues(name, path)
		for _, outcome := range []string{outcomeAccepted, outcomeRejected, outcomeUnavailable} {
			sm.verifications[[2]string{outcome, path}] = m.verifications.WithLabelValues(name, outcome, path)
		}
	}
	return sm
}
