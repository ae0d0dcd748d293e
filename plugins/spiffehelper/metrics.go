package spiffehelper

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gauges are computed at scrape time from the token in use, labelled by
// its file. A token that is dropped leaves no series; an expired one that is
// still held shows a negative expiry.
var (
	tokenAgeDesc = prometheus.NewDesc("slimid_spiffehelper_token_age_seconds",
		"Seconds since the JWT-SVID in use was issued (its iat).", []string{"token_file"}, nil)
	tokenExpiryDesc = prometheus.NewDesc("slimid_spiffehelper_token_expiry_seconds",
		"Seconds until the JWT-SVID in use expires; negative once it has expired.", []string{"token_file"}, nil)
)

// gauges is one registered collector that reports every live plugin
// registered on the same registerer.
type gauges struct {
	mu      sync.Mutex
	plugins map[*Plugin]struct{}
}

// registerGauges registers the collector on r, or joins the one already
// there.
func registerGauges(r prometheus.Registerer) (*gauges, error) {
	g := &gauges{plugins: map[*Plugin]struct{}{}}
	err := r.Register(g)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(*gauges); ok {
			return existing, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

func (g *gauges) add(p *Plugin) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.plugins[p] = struct{}{}
}

func (g *gauges) remove(p *Plugin) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.plugins, p)
}

// Describe implements prometheus.Collector.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokenAgeDesc
	ch <- tokenExpiryDesc
}

// Collect implements prometheus.Collector.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	views := make([]*view, 0, len(g.plugins))
	for p := range g.plugins {
		if v := p.pub.Load().view; v != nil && v.token != nil {
			views = append(views, v)
		}
	}
	g.mu.Unlock()
	// Plugins reading the same file report it once, with the newest token
	// any of them holds.
	newest := map[string]*token{}
	for _, v := range views {
		path := v.cfg.tokenPath
		if cur, ok := newest[path]; !ok || cur.olderThan(v.token) {
			newest[path] = v.token
		}
	}
	now := time.Now()
	for path, t := range newest {
		ch <- prometheus.MustNewConstMetric(tokenExpiryDesc, prometheus.GaugeValue, t.id.ExpiresAt.Sub(now).Seconds(), path)
		if !t.id.IssuedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(tokenAgeDesc, prometheus.GaugeValue, now.Sub(t.id.IssuedAt).Seconds(), path)
		}
	}
}
