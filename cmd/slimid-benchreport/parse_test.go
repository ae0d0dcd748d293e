package main

import (
	"os"
	"strings"
	"testing"
)

// value is one expected median.
type value struct {
	pkg, name, unit string
	want            float64
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name      string
		input     string
		values    []value
		absent    []string // names that must not be found in pkg "p"
		procs     int
		failed    []string // names in pkg "p" reported failed or skipped
		cpu       string
		benchmark int // results parsed
	}{
		{
			name:  "captured run of several packages",
			input: readFile(t, "testdata/short_run.txt"),
			values: []value{
				{"broker", "BenchmarkVerifyPaths/direct", "ns/op", 2784},
				{"broker", "BenchmarkVerifyPaths/external-parallel", "verifies/s", 2682},
				{"broker", "BenchmarkVerifyPaths/cache-hit", "B/op", 232},
				{"sdk/jwtverify", "BenchmarkVerifyPaired/ES256", "ratio", 0.2585},
				{"sdk/jwtverify", "BenchmarkVerifyPaired/ES256", "jwx-µs/op", 555.4},
				{"plugins/jwt", "BenchmarkVerify/ES256/jwx", "ns/op", 76217},
				{"plugins/spiffehelper", "BenchmarkRotation/in-place", "p99-ms", 53.89},
				{"plugins/spire", "BenchmarkFetchToken", "ns/op", 469777},
				{"moderator/mls", "BenchmarkAddInOneCommit/n=100/boundary", "cpu-ns/op", 13932000},
			},
			procs:     2,
			cpu:       "AMD EPYC",
			benchmark: 42,
		},
		{
			name: "repeated runs count by their median",
			input: "pkg: example.com/p\n" +
				"BenchmarkA-4\t100\t300 ns/op\n" +
				"BenchmarkA-4\t100\t100 ns/op\n" +
				"BenchmarkA-4\t100\t200 ns/op\n" +
				"BenchmarkB-4\t100\t10 ns/op\n" +
				"BenchmarkB-4\t100\t20 ns/op\n",
			values:    []value{{"p", "BenchmarkA", "ns/op", 200}, {"p", "BenchmarkB", "ns/op", 15}},
			procs:     4,
			benchmark: 2,
		},
		{
			name: "a result split by what the benchmark printed",
			input: "pkg: example.com/p\n" +
				"BenchmarkSplit-2   \tsome output the benchmark printed\n" +
				"more output\n" +
				"     500\t      1234 ns/op\t  12 B/op\t 1 allocs/op\n" +
				"BenchmarkInline-2   \tprinted text   42\t  77 ns/op\n",
			values:    []value{{"p", "BenchmarkSplit", "ns/op", 1234}, {"p", "BenchmarkSplit", "allocs/op", 1}, {"p", "BenchmarkInline", "ns/op", 77}},
			procs:     2,
			benchmark: 2,
		},
		{
			name: "GOMAXPROCS 1: names end in numbers of their own",
			input: "pkg: example.com/p\n" +
				"BenchmarkSize/n-10\t100\t5 ns/op\n" +
				"BenchmarkOther\t100\t6 ns/op\n",
			values:    []value{{"p", "BenchmarkSize/n-10", "ns/op", 5}, {"p", "BenchmarkOther", "ns/op", 6}},
			absent:    []string{"BenchmarkSize/n"},
			benchmark: 2,
		},
		{
			name: "failed and skipped benchmarks",
			input: "pkg: example.com/p\n" +
				"BenchmarkOK-2\t10\t5 ns/op\n" +
				"--- FAIL: BenchmarkBroken/sub\n" +
				"    bench_test.go:48: WatchKeys: not configured\n" +
				"--- SKIP: BenchmarkSkipped-2\n" +
				"--- BENCH: BenchmarkOK-2\n" +
				"    bench_test.go:12: a log line\n" +
				"FAIL\n",
			values:    []value{{"p", "BenchmarkOK", "ns/op", 5}},
			failed:    []string{"BenchmarkBroken/sub", "BenchmarkBroken/sub/deeper", "BenchmarkSkipped"},
			absent:    []string{"BenchmarkBroken/sub"},
			procs:     2,
			benchmark: 1,
		},
		{
			name: "not benchmarks",
			input: "goos: linux\n" +
				"Benchmarks are great\n" +
				"Benchmarking-2\t10\t5 ns/op\n" +
				"ok  \texample.com/p\t0.1s\n" +
				"BenchmarkNoValues-2\t10\n" +
				"BenchmarkOddPairs-2\t10\t5 ns/op\t6\n",
			absent: []string{"Benchmarking", "BenchmarkNoValues", "BenchmarkOddPairs"},
		},
		{
			name:      "output without pkg lines",
			input:     "BenchmarkX-2\t10\t5 ns/op\n",
			values:    []value{{"anything", "BenchmarkX", "ns/op", 5}},
			procs:     2,
			benchmark: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parse(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.values {
				got, ok := rs.find(v.pkg, v.name).median(v.unit)
				if !ok || got != v.want {
					t.Errorf("%s %s %s = %v (found %v); want %v", v.pkg, v.name, v.unit, got, ok, v.want)
				}
			}
			for _, name := range tc.absent {
				if rs.find("p", name) != nil {
					t.Errorf("found %s; want it absent", name)
				}
			}
			for _, name := range tc.failed {
				if !rs.didFail("p", name) {
					t.Errorf("%s not reported as failed", name)
				}
			}
			if rs.didFail("p", "BenchmarkOK") {
				t.Error("BenchmarkOK reported as failed")
			}
			if rs.procs != tc.procs || rs.cpu != tc.cpu || len(rs.order) != tc.benchmark {
				t.Errorf("procs %d, cpu %q, %d results; want %d, %q, %d", rs.procs, rs.cpu, len(rs.order), tc.procs, tc.cpu, tc.benchmark)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
