package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The moderator's admission benchmarks are matched by shape, not by exact
// name: any BenchmarkAdmit... in a moderator package, with the group size
// in a part such as "n=100", and its variants told apart by words in the
// sub-benchmark names.

// admissionVariant is what an admission benchmark measures.
type admissionVariant int

const (
	variantAdmit admissionVariant = iota // the moderator admitting: verify, policy, commit, store
	variantMLS                           // the MLS commit alone
	variantTSMLS                         // the same add in ts-mls
	variantOther                         // a variant the report does not compare (state on tmpfs)
)

var (
	// sizeRE finds the group size in one part of a benchmark name.
	sizeRE = regexp.MustCompile(`(?i)^(?:n|members|size|count|group)?[=_]?(\d+)$`)
	// sizeInNameRE finds it anywhere in the name as a fallback.
	sizeInNameRE = regexp.MustCompile(`(?i)(?:^|[^a-z])(?:n|members|size)=(\d+)`)
)

// admissionSample is one admission benchmark's cost for a group size.
type admissionSample struct {
	n       int
	variant admissionVariant
	ns      measure
	ratio   measure // a ratio the benchmark reports itself, if any
}

// classify reads a benchmark name's variant from its words: the last
// sub-benchmark name decides when it names one (BenchmarkAdmitVsTsMLS/n=1/
// moderator is the moderator, not ts-mls), else the whole name.
func classify(name string) admissionVariant {
	parts := strings.Split(name, "/")
	if last := strings.ToLower(parts[len(parts)-1]); len(parts) > 1 && sizeRE.FindStringSubmatch(last) == nil {
		switch {
		case strings.Contains(last, "tmpfs"):
			return variantOther
		case strings.HasPrefix(last, "moderator"), last == "admit", last == "full":
			return variantAdmit
		}
		if v := classifyWords(last); v != variantAdmit {
			return v
		}
	}
	return classifyWords(strings.ToLower(strings.TrimPrefix(name, "BenchmarkAdmit")))
}

func classifyWords(words string) admissionVariant {
	switch {
	case strings.Contains(words, "ts-mls"), strings.Contains(words, "tsmls"), strings.Contains(words, "ts_mls"):
		return variantTSMLS
	}
	for _, w := range []string{"mls", "direct", "alone", "baseline", "bare", "only"} {
		if strings.Contains(words, w) {
			return variantMLS
		}
	}
	return variantAdmit
}

// groupSize finds the group size in a benchmark name; 0 when it names none.
func groupSize(name string) int {
	parts := strings.Split(name, "/")
	for _, p := range parts[1:] {
		if m := sizeRE.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	if m := sizeInNameRE.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// admissionSamples gathers every BenchmarkAdmit... of the moderator, and
// the benchmarks that stand in for a missing variant: the moderator's MLS
// layer adding n in one commit, and ts-mls's own timing.
func admissionSamples(rs *results) []admissionSample {
	var out []admissionSample
	for _, r := range rs.order {
		if !strings.Contains(r.pkg, "moderator") && r.pkg != "" {
			continue
		}
		switch {
		case strings.HasPrefix(r.name, "BenchmarkAdmit"):
			if strings.Contains(r.name, "cache=on") {
				continue // reuses identical tokens: optimistic; cache=off is the honest figure
			}
			out = append(out, admissionSample{n: groupSize(r.name), variant: classify(r.name), ns: rs.metric(r.pkg, r.name, "ns/op"), ratio: rs.metric(r.pkg, r.name, "ratio")})
		case strings.HasPrefix(r.name, "BenchmarkMLSAdmit/"):
			out = append(out, admissionSample{n: groupSize(r.name), variant: variantMLS, ns: rs.metric(r.pkg, r.name, "ns/op")})
		case strings.HasPrefix(r.name, "BenchmarkAddInOneCommit/") && strings.HasSuffix(r.name, "/boundary"):
			out = append(out, admissionSample{n: groupSize(r.name), variant: variantMLS, ns: rs.metric(r.pkg, r.name, "ns/op")})
		case strings.HasPrefix(r.name, "BenchmarkAddMembers/") && strings.HasSuffix(r.pkg, "tsmls"):
			ms := rs.metric(r.pkg, r.name, "ts-add-ms/op")
			ms.v *= 1e6
			out = append(out, admissionSample{n: groupSize(r.name), variant: variantTSMLS, ns: ms})
		}
	}
	return out
}

// pick is the sample of the variant for size n, preferring one from a
// BenchmarkAdmit... (listed first).
func pick(samples []admissionSample, n int, v admissionVariant) (admissionSample, bool) {
	for _, s := range samples {
		if s.n == n && s.variant == v && s.ns.ok {
			return s, true
		}
	}
	return admissionSample{}, false
}

// admissionRows: admitting n members in one commit against the MLS commit
// alone (the moderator's own overhead), and against ts-mls doing the add,
// for the largest n measured both ways.
func admissionRows(rs *results) []row {
	samples := admissionSamples(rs)
	var admits []admissionSample
	for _, s := range samples {
		if s.variant == variantAdmit {
			admits = append(admits, s)
		}
	}
	slices.SortStableFunc(admits, func(a, b admissionSample) int { return b.n - a.n })
	figure := func(what string, n int) string {
		if n == 0 {
			return "admit in one commit / " + what
		}
		return fmt.Sprintf("admit n=%d in one commit / %s", n, what)
	}

	mlsRow := newRow(figure("MLS alone", 0), measure{}, ratio, atMost(1.3, "≤ 1.30"))
	for _, a := range admits {
		if a.ratio.ok {
			mlsRow = newRow(figure("MLS alone", a.n), a.ratio, ratio, atMost(1.3, "≤ 1.30"))
			break
		}
		if base, ok := pick(samples, a.n, variantMLS); ok {
			mlsRow = newRow(figure("MLS alone", a.n), div(a.ns, base.ns), ratio, atMost(1.3, "≤ 1.30"))
			break
		}
	}
	tsRow := newRow("ts-mls add / admit in one commit", measure{}, times, atLeast(10, "≥ 10×"))
	for _, a := range admits {
		if ts, ok := pick(samples, a.n, variantTSMLS); ok {
			tsRow = newRow(fmt.Sprintf("ts-mls add / admit n=%d in one commit", a.n), div(ts.ns, a.ns), times, atLeast(10, "≥ 10×"))
			break
		}
	}
	return []row{mlsRow, tsRow}
}
