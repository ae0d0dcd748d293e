package service

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Delivery kinds, as metric labels and in logs.
const (
	whatCommit      = "commit"
	whatWelcome     = "welcome"
	whatApplication = "application"
	whatJoinRequest = "join_request"
)

type metrics struct {
	connected    prometheus.Gauge
	deliveries   *prometheus.CounterVec
	resends      *prometheus.CounterVec
	unresponsive *prometheus.CounterVec
	admissions   *prometheus.CounterVec
	refusedPubs  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slimid_moderator_connected_participants",
			Help: "Participants with an open Connect stream.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_moderator_deliveries_total",
			Help: "Deliveries sent to members, by kind (commit, welcome, application, join_request), first sends only.",
		}, []string{"kind"}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_moderator_resends_total",
			Help: "Deliveries sent again because they were not acknowledged in time, by kind.",
		}, []string{"kind"}),
		unresponsive: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_moderator_unresponsive_total",
			Help: "Deliveries still unacknowledged after every retry (the participant is reported unresponsive), by kind.",
		}, []string{"kind"}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slimid_moderator_join_outcomes_total",
			Help: "Participants asked to join, by outcome (admitted, refused, failed).",
		}, []string{"outcome"}),
		refusedPubs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slimid_moderator_refused_publishes_total",
			Help: "Messages from members that the moderator dropped (unverified sender, stale epoch, refused Update).",
		}),
	}
	if reg != nil {
		m.connected = reuse(reg, m.connected)
		m.deliveries = reuse(reg, m.deliveries)
		m.resends = reuse(reg, m.resends)
		m.unresponsive = reuse(reg, m.unresponsive)
		m.admissions = reuse(reg, m.admissions)
		m.refusedPubs = reuse(reg, m.refusedPubs)
	}
	return m
}

// reuse registers c, or returns the collector a previous Service (reopened
// in the same process) registered under the same name.
func reuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev
		}
	}
	return c
}
