package main

import (
	"fmt"
	"strings"
)

// measure is a figure's value, or why there is none.
type measure struct {
	v      float64
	ok     bool
	failed bool // the benchmark failed or was skipped
}

// metric is the median of unit for the named benchmark in the package at
// path.
func (rs *results) metric(path, name, unit string) measure {
	if v, ok := rs.find(path, name).median(unit); ok {
		return measure{v: v, ok: true}
	}
	return measure{failed: rs.didFail(path, name)}
}

func (rs *results) ns(path, name string) measure { return rs.metric(path, name, "ns/op") }

// div is a / b.
func div(a, b measure) measure {
	if !a.ok || !b.ok || b.v == 0 {
		return measure{failed: a.failed || b.failed}
	}
	return measure{v: a.v / b.v, ok: true}
}

func sum(a, b measure) measure {
	if !a.ok || !b.ok {
		return measure{failed: a.failed || b.failed}
	}
	return measure{v: a.v + b.v, ok: true}
}

// first is the first measure that has a value.
func first(ms ...measure) measure {
	failed := false
	for _, m := range ms {
		if m.ok {
			return m
		}
		failed = failed || m.failed
	}
	return measure{failed: failed}
}

// target is a figure's goal.
type target struct {
	text string
	met  func(float64) bool
}

func atMost(limit float64, text string) *target {
	return &target{text: text, met: func(v float64) bool { return v <= limit }}
}

func below(limit float64, text string) *target {
	return &target{text: text, met: func(v float64) bool { return v < limit }}
}

func atLeast(limit float64, text string) *target {
	return &target{text: text, met: func(v float64) bool { return v >= limit }}
}

// row is one line of the report.
type row struct {
	figure, value, target, result string
}

// Results of a row.
const (
	resultPass        = "pass"
	resultFail        = "FAIL"
	resultNotMeasured = "not measured"
	resultFailed      = "benchmark failed"
)

// newRow renders m with format and judges it against t (nil: no target).
func newRow(figure string, m measure, format func(float64) string, t *target) row {
	r := row{figure: figure, value: "-", target: "-"}
	if t != nil {
		r.target = t.text
	}
	switch {
	case m.ok:
		r.value = format(m.v)
		if t != nil {
			r.result = resultPass
			if !t.met(m.v) {
				r.result = resultFail
			}
		}
	case m.failed:
		r.result = resultFailed
	default:
		r.result = resultNotMeasured
	}
	return r
}

// duration formats nanoseconds with three significant digits.
func duration(ns float64) string {
	for _, u := range []struct {
		scale float64
		name  string
	}{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}} {
		if ns >= u.scale {
			return sig3(ns/u.scale) + " " + u.name
		}
	}
	return sig3(ns) + " ns"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(v float64) string { return fmt.Sprintf("%.2f", v) }

func times(v float64) string { return sig3(v) + "×" }

// perSecond formats a rate with thousands separators.
func perSecond(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + " /s"
}

func mebibytes(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

// report computes every headline figure the project tracks.
func report(rs *results) []row {
	var rows []row
	rows = append(rows, sharedSecretRows(rs)...)
	rows = append(rows, jwtRows(rs)...)
	rows = append(rows, spiffeRows(rs)...)
	rows = append(rows, rotationRows(rs)...)
	rows = append(rows, admissionRows(rs)...)
	return rows
}

// sharedSecretRows: broker's BenchmarkVerifyPaths, every path in one run.
func sharedSecretRows(rs *results) []row {
	path := func(sub string) measure { return rs.ns("broker", "BenchmarkVerifyPaths/"+sub) }
	direct := first(path("direct"), rs.ns("plugins/sharedsecret", "BenchmarkVerifyDirect"))
	echo := path("echo")
	return []row{
		newRow("shared_secret verify, direct", direct, duration, nil),
		newRow("shared_secret verify, built-in pipe", path("builtin"), duration, nil),
		newRow("shared_secret verify, external", path("external"), duration, nil),
		newRow("go-plugin echo floor (same payload)", echo, duration, nil),
		newRow("shared_secret external / (echo + direct)", externalRatio(rs, path("external"), echo, direct), ratio, atMost(1.2, "≤ 1.20")),
		newRow("shared_secret verify, cache hit", path("cache-hit"), duration, below(2000, "< 2 µs")),
		newRow("shared_secret external, parallel callers", rs.metric("broker", "BenchmarkVerifyPaths/external-parallel", "verifies/s"), perSecond, atLeast(15000, "≥ 15,000 /s")),
	}
}

// externalRatio is the external path's cost over the transport floor plus
// the plugin's own work. The paired sub-benchmark (external and echo
// alternating in one loop, so both see the same machine state) is preferred
// over separate runs, whose absolute figures drift on a noisy host.
func externalRatio(rs *results, external, echo, direct measure) measure {
	const paired = "BenchmarkVerifyPaths/external-vs-echo"
	if pe, pc := rs.metric("broker", paired, "external-ns/op"), rs.metric("broker", paired, "echo-ns/op"); pe.ok && pc.ok {
		return div(pe, sum(pc, direct))
	}
	return div(external, sum(echo, direct))
}

// jwtRows: plugins/jwt's BenchmarkVerify per algorithm, and the cost of
// the broker's in-process verification against jwx called directly.
func jwtRows(rs *results) []row {
	var rows []row
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		path := func(sub string) measure { return rs.ns("plugins/jwt", "BenchmarkVerify/"+alg+"/"+sub) }
		// The paired benchmark times both in every iteration, so its ratio
		// holds on a loaded machine; separate runs are the fallback.
		overhead := first(
			rs.metric("sdk/jwtverify", "BenchmarkVerifyPaired/"+alg, "ratio"),
			div(path("jwtverify"), path("jwx")),
			div(rs.ns("sdk/jwtverify", "BenchmarkVerify/"+alg+"/jwtverify"), rs.ns("sdk/jwtverify", "BenchmarkVerify/"+alg+"/jwx")),
		)
		rows = append(rows,
			newRow("jwt "+alg+" verify, jwx direct", path("jwx"), duration, nil),
			newRow("jwt "+alg+" verify, in process (published keys)", path("jwtverify"), duration, nil),
			newRow("jwt "+alg+" verify, built-in pipe", path("plugin-in-process"), duration, nil),
			newRow("jwt "+alg+" verify, external", path("plugin-external"), duration, nil),
			newRow("jwt "+alg+" published keys / jwx direct", overhead, ratio, atMost(1.2, "≤ 1.20")),
		)
	}
	return rows
}

// spiffeRows: the SPIRE plugins' verification paths.
func spiffeRows(rs *results) []row {
	return []row{
		newRow("spire verify, direct", rs.ns("plugins/spire", "BenchmarkVerify/plugin"), duration, nil),
		newRow("spire verify, in process (published keys)", rs.ns("plugins/spire", "BenchmarkVerify/jwtverify-snapshot"), duration, nil),
		newRow("spire verify, built-in pipe", rs.ns("plugins/spire", "BenchmarkVerify/plugin-over-pipe"), duration, nil),
		newRow("spire FetchToken from the agent", rs.ns("plugins/spire", "BenchmarkFetchToken"), duration, nil),
		newRow("spiffe_helper verify, direct", rs.ns("plugins/spiffehelper", "BenchmarkVerify/in-process"), duration, nil),
		newRow("spiffe_helper verify, built-in pipe", rs.ns("plugins/spiffehelper", "BenchmarkVerify/in-memory-grpc"), duration, nil),
	}
}

// rotationRows: spiffe_helper file rewritten to WatchToken pushing it, per
// write mode.
func rotationRows(rs *results) []row {
	const prefix = "BenchmarkRotation/"
	var modes []string
	for _, r := range rs.order {
		if mode, ok := strings.CutPrefix(r.name, prefix); ok && inPackage(r.pkg, "plugins/spiffehelper") {
			modes = append(modes, mode)
		}
	}
	if len(modes) == 0 {
		return []row{newRow("rotation p50 / p99, spiffe_helper file → WatchToken", measure{failed: rs.didFail("plugins/spiffehelper", "BenchmarkRotation")}, nil, below(100, "p99 < 100 ms"))}
	}
	var rows []row
	for _, mode := range modes {
		p50 := rs.metric("plugins/spiffehelper", prefix+mode, "p50-ms")
		p99 := rs.metric("plugins/spiffehelper", prefix+mode, "p99-ms")
		r := newRow("rotation p50 / p99, spiffe_helper "+mode, p99, func(v float64) string {
			return duration(p50.v*1e6) + " / " + duration(v*1e6)
		}, below(100, "p99 < 100 ms"))
		if !p50.ok && p99.ok {
			r.value = "- / " + duration(p99.v*1e6)
		}
		rows = append(rows, r)
	}
	return rows
}
