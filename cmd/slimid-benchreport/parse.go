package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results are the benchmarks of one `go test -bench` output, several
// packages concatenated. A benchmark run several times (-count) keeps every
// value; lookups take the median.
type results struct {
	byKey  map[string]*result // pkg + "\x00" + name
	order  []*result
	failed map[string]bool // pkg + "\x00" + name, reported FAIL or SKIP
	cpu    string
	procs  int // GOMAXPROCS, from the names' suffix; 0 when unknown
}

// result is one benchmark's values by unit ("ns/op", "B/op", "p99-ms").
type result struct {
	pkg, name string // name without the -GOMAXPROCS suffix
	values    map[string][]float64
}

// configRE is a configuration line of the Go benchmark format: a lowercase
// key without spaces, a colon, a value.
var configRE = regexp.MustCompile(`^([a-z][^\s:A-Z]*):\s*(.*)$`)

// procsRE is the -GOMAXPROCS suffix testing appends to a name (when it is
// not 1).
var procsRE = regexp.MustCompile(`-(\d+)$`)

// parse reads benchmark output. Lines it does not know (logs, PASS, ok)
// are skipped; a result line split by output the benchmark printed is
// joined to its name.
func parse(r io.Reader) (*results, error) {
	rs := &results{byKey: map[string]*result{}, failed: map[string]bool{}}
	raw := map[string][]*result{} // per package, names as printed
	pkg, pending := "", ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			continue
		case isBenchmarkName(fields[0]):
			if values, ok := parseValues(fields[1:]); ok {
				raw[pkg] = append(raw[pkg], rs.add(pkg, fields[0], values))
				pending = ""
			} else {
				pending = fields[0]
			}
		case (fields[0] == "---") && len(fields) >= 3 && (fields[1] == "FAIL:" || fields[1] == "SKIP:") && isBenchmarkName(fields[2]):
			rs.failed[pkg+"\x00"+fields[2]] = true
		case pending != "":
			if values, ok := parseValues(fields); ok {
				raw[pkg] = append(raw[pkg], rs.add(pkg, pending, values))
				pending = ""
			}
		default:
			if m := configRE.FindStringSubmatch(line); m != nil {
				switch m[1] {
				case "pkg":
					pkg, pending = m[2], ""
				case "cpu":
					rs.cpu = m[2]
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %v", err)
	}
	rs.stripProcs(raw)
	return rs, nil
}

// isBenchmarkName: "Benchmark" followed by nothing or a non-lowercase
// rune, as the testing package requires.
func isBenchmarkName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	return ok && (rest == "" || rest[0] < 'a' || rest[0] > 'z')
}

// parseValues reads "<iterations> <value> <unit> [<value> <unit>]...",
// starting at the first field from which the rest parses, so that text a
// benchmark printed before its result is skipped.
func parseValues(fields []string) (map[string]float64, bool) {
	for i := range fields {
		if _, err := strconv.ParseUint(fields[i], 10, 64); err != nil {
			continue
		}
		pairs := fields[i+1:]
		if len(pairs) == 0 || len(pairs)%2 != 0 {
			continue
		}
		values := map[string]float64{}
		ok := true
		for j := 0; j < len(pairs); j += 2 {
			v, err := strconv.ParseFloat(pairs[j], 64)
			if err != nil {
				ok = false
				break
			}
			values[pairs[j+1]] = v
		}
		if ok {
			return values, true
		}
	}
	return nil, false
}

func (rs *results) add(pkg, name string, values map[string]float64) *result {
	key := pkg + "\x00" + name
	r, ok := rs.byKey[key]
	if !ok {
		r = &result{pkg: pkg, name: name, values: map[string][]float64{}}
		rs.byKey[key] = r
		rs.order = append(rs.order, r)
	}
	for unit, v := range values {
		r.values[unit] = append(r.values[unit], v)
	}
	return r
}

// stripProcs removes the -GOMAXPROCS suffix from the names of a package
// when every one of its results carries the same: testing appends it to
// all names of a run, and only then can it be told from a name that ends
// in a number.
func (rs *results) stripProcs(raw map[string][]*result) {
	for _, list := range raw {
		suffix := ""
		for i, r := range list {
			m := procsRE.FindString(r.name)
			if m == "" || (i > 0 && m != suffix) {
				suffix = ""
				break
			}
			suffix = m
		}
		if suffix == "" {
			continue
		}
		rs.procs, _ = strconv.Atoi(suffix[1:])
		seen := map[*result]bool{}
		for _, r := range list {
			if seen[r] {
				continue
			}
			seen[r] = true
			delete(rs.byKey, r.pkg+"\x00"+r.name)
			r.name = strings.TrimSuffix(r.name, suffix)
			if other, ok := rs.byKey[r.pkg+"\x00"+r.name]; ok && other != r {
				for unit, vs := range r.values {
					other.values[unit] = append(other.values[unit], vs...)
				}
				rs.order = slices.DeleteFunc(rs.order, func(x *result) bool { return x == r })
				continue
			}
			rs.byKey[r.pkg+"\x00"+r.name] = r
		}
	}
}

// inPackage: pkg is the package at path (a suffix of its import path such
// as "plugins/jwt"); an output without pkg lines matches every path.
func inPackage(pkg, path string) bool {
	return pkg == "" || pkg == path || strings.HasSuffix(pkg, "/"+path)
}

// find returns the result of the named benchmark in the package at path.
func (rs *results) find(path, name string) *result {
	for _, r := range rs.order {
		if r.name == name && inPackage(r.pkg, path) {
			return r
		}
	}
	return nil
}

// didFail reports whether the benchmark, one it runs under or one it runs,
// failed or was skipped. Failed names keep their -GOMAXPROCS suffix, which is
// dropped here.
func (rs *results) didFail(path, name string) bool {
	for key := range rs.failed {
		pkg, failed, _ := strings.Cut(key, "\x00")
		failed = procsRE.ReplaceAllString(failed, "")
		related := name == failed || strings.HasPrefix(name, failed+"/") || strings.HasPrefix(failed, name+"/")
		if inPackage(pkg, path) && related {
			return true
		}
	}
	return false
}

// median of the values of unit; false when there are none.
func (r *result) median(unit string) (float64, bool) {
	if r == nil || len(r.values[unit]) == 0 {
		return 0, false
	}
	vs := slices.Sorted(slices.Values(r.values[unit]))
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}
