package jwt

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the plugin's Prometheus counters.
type metrics struct {
	reloadErrors *prometheus.CounterVec
	fetchErrors  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		reloadErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_jwt_key_reload_errors_total",
			Help: "Key file reloads that failed; the last good keys stay in use.",
		}, []string{"file"})),
		fetchErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_jwt_jwks_fetch_errors_total",
			Help: "Failed fetches of an issuer's keys (discovery or JWKS).",
		}, []string{"issuer"})),
	}
}

// register adds c to reg, or reuses the collector already registered under
// its name, so several plugin instances can share one registry.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	return c
}
