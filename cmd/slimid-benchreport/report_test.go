package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden tables in testdata")

// The captured run renders as the golden table, row for row.
func TestReportGolden(t *testing.T) {
	rs, err := parse(strings.NewReader(readFile(t, "testdata/short_run.txt")))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printTable(&out, heading(rs, "short_run.txt"), report(rs)); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/short_run.table"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, golden); out.String() != want {
		t.Fatalf("report differs from %s (go test -run TestReportGolden -update rewrites it):\n%s", golden, out.String())
	}
}

// rowsByFigure indexes rows for lookups in tests.
func rowsByFigure(rows []row) map[string]row {
	out := map[string]row{}
	for _, r := range rows {
		out[r.figure] = r
	}
	return out
}

func TestFigures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []row // figure, value, target, result
	}{
		{
			name: "shared_secret ratios and targets",
			input: "pkg: github.com/slimid/slimid/broker\n" +
				"BenchmarkVerifyPaths/direct-2\t1000\t1000 ns/op\n" +
				"BenchmarkVerifyPaths/external-2\t1000\t60000 ns/op\n" +
				"BenchmarkVerifyPaths/external-parallel-2\t1000\t60000 ns/op\t16000 verifies/s\n" +
				"BenchmarkVerifyPaths/cache-hit-2\t1000\t2000 ns/op\n" +
				"BenchmarkVerifyPaths/echo-2\t1000\t49000 ns/op\n",
			want: []row{
				{"shared_secret external / (echo + direct)", "1.20", "≤ 1.20", "pass"},
				{"shared_secret verify, cache hit", "2.00 µs", "< 2 µs", "FAIL"},
				{"shared_secret external, parallel callers", "16,000 /s", "≥ 15,000 /s", "pass"},
				{"shared_secret verify, built-in pipe", "-", "-", "not measured"},
			},
		},
		{
			name: "the direct cost falls back to the plugin's own benchmark",
			input: "pkg: github.com/slimid/slimid/plugins/sharedsecret\n" +
				"BenchmarkVerifyDirect-2\t1000\t3000 ns/op\n",
			want: []row{{"shared_secret verify, direct", "3.00 µs", "-", ""}},
		},
		{
			name: "published-key overhead: the paired ratio first",
			input: "pkg: github.com/slimid/slimid/plugins/jwt\n" +
				"BenchmarkVerify/ES256/jwx-2\t100\t100000 ns/op\n" +
				"BenchmarkVerify/ES256/jwtverify-2\t100\t130000 ns/op\n" +
				"BenchmarkVerify/EdDSA/jwx-2\t100\t100000 ns/op\n" +
				"BenchmarkVerify/EdDSA/jwtverify-2\t100\t130000 ns/op\n" +
				"pkg: github.com/slimid/slimid/sdk/jwtverify\n" +
				"BenchmarkVerifyPaired/ES256-2\t100\t200000 ns/op\t1.05 ratio\n" +
				"BenchmarkVerify/RS256/jwx-2\t100\t50000 ns/op\n" +
				"BenchmarkVerify/RS256/jwtverify-2\t100\t55000 ns/op\n",
			want: []row{
				{"jwt ES256 published keys / jwx direct", "1.05", "≤ 1.20", "pass"},
				{"jwt EdDSA published keys / jwx direct", "1.30", "≤ 1.20", "FAIL"},
				{"jwt RS256 published keys / jwx direct", "1.10", "≤ 1.20", "pass"},
				{"jwt ES256 verify, external", "-", "-", "not measured"},
			},
		},
		{
			name: "rotation per write mode",
			input: "pkg: github.com/slimid/slimid/plugins/spiffehelper\n" +
				"BenchmarkRotation/in-place-2\t500\t12000000 ns/op\t10.5 p50-ms\t120.0 p99-ms\n" +
				"BenchmarkRotation/rename-over-2\t500\t12000000 ns/op\t11.0 p50-ms\t80.2 p99-ms\n",
			want: []row{
				{"rotation p50 / p99, spiffe_helper in-place", "10.5 ms / 120 ms", "p99 < 100 ms", "FAIL"},
				{"rotation p50 / p99, spiffe_helper rename-over", "11.0 ms / 80.2 ms", "p99 < 100 ms", "pass"},
			},
		},
		{
			name: "rotation not run",
			input: "pkg: github.com/slimid/slimid/plugins/spiffehelper\n" +
				"--- FAIL: BenchmarkRotation/in-place\n",
			want: []row{{"rotation p50 / p99, spiffe_helper file → WatchToken", "-", "p99 < 100 ms", "benchmark failed"}},
		},
		{
			name: "a failed sub-benchmark is told from a missing one",
			input: "pkg: github.com/slimid/slimid/plugins/spire\n" +
				"BenchmarkVerify/plugin-2\t100\t62400 ns/op\n" +
				"--- FAIL: BenchmarkVerify/jwtverify-snapshot\n",
			want: []row{
				{"spire verify, direct", "62.4 µs", "-", ""},
				{"spire verify, in process (published keys)", "-", "-", "benchmark failed"},
				{"spire FetchToken from the agent", "-", "-", "not measured"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parse(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			rows := rowsByFigure(report(rs))
			for _, want := range tc.want {
				if got, ok := rows[want.figure]; !ok || got != want {
					t.Errorf("row %q = %+v; want %+v", want.figure, got, want)
				}
			}
		})
	}
}

func TestAdmissionRows(t *testing.T) {
	const moderator = "pkg: github.com/slimid/slimid/moderator\n"
	for _, tc := range []struct {
		name     string
		input    string
		mls, tss row
	}{
		{
			name:  "not measured",
			input: "pkg: github.com/slimid/slimid/broker\nBenchmarkVerifyPaths/direct-2\t10\t5 ns/op\n",
			mls:   row{"admit in one commit / MLS alone", "-", "≤ 1.30", "not measured"},
			tss:   row{"ts-mls add / admit in one commit", "-", "≥ 10×", "not measured"},
		},
		{
			name: "admit and MLS-alone variants, the largest n measured both ways",
			input: moderator +
				"BenchmarkAdmitInOneCommit/n=10/admit-2\t10\t2000000 ns/op\n" +
				"BenchmarkAdmitInOneCommit/n=10/mls-alone-2\t10\t1000000 ns/op\n" +
				"BenchmarkAdmitInOneCommit/n=100/admit-2\t10\t15000000 ns/op\n" +
				"BenchmarkAdmitInOneCommit/n=100/mls-alone-2\t10\t12500000 ns/op\n" +
				"BenchmarkAdmitInOneCommit/n=1000/admit-2\t10\t700000000 ns/op\n" +
				"pkg: github.com/slimid/slimid/moderator/mls/tsmls\n" +
				"BenchmarkAddMembers/n=100-2\t3\t600000000 ns/op\t570.0 ts-add-ms/op\t300.0 ts-join-ms/op\n",
			mls: row{"admit n=100 in one commit / MLS alone", "1.20", "≤ 1.30", "pass"},
			tss: row{"ts-mls add / admit n=100 in one commit", "38.0×", "≥ 10×", "pass"},
		},
		{
			name: "size as a bare number, baseline named direct, ts-mls as a variant",
			input: moderator +
				"BenchmarkAdmit/members_50/moderator-2\t10\t4000000 ns/op\n" +
				"BenchmarkAdmit/members_50/direct-2\t10\t2000000 ns/op\n" +
				"BenchmarkAdmit/members_50/ts-mls-2\t10\t30000000 ns/op\n",
			mls: row{"admit n=50 in one commit / MLS alone", "2.00", "≤ 1.30", "FAIL"},
			tss: row{"ts-mls add / admit n=50 in one commit", "7.50×", "≥ 10×", "FAIL"},
		},
		{
			name: "the MLS layer's own benchmark stands in for the baseline",
			input: moderator +
				"BenchmarkAdmitMembers/n=100-2\t10\t14000000 ns/op\n" +
				"pkg: github.com/slimid/slimid/moderator/mls\n" +
				"BenchmarkAddInOneCommit/n=100/boundary-2\t3\t13083682 ns/op\n" +
				"BenchmarkAddInOneCommit/n=100/direct-2\t3\t12896395 ns/op\n",
			mls: row{"admit n=100 in one commit / MLS alone", "1.07", "≤ 1.30", "pass"},
			tss: row{"ts-mls add / admit in one commit", "-", "≥ 10×", "not measured"},
		},
		{
			name:  "a ratio the benchmark reports itself",
			input: moderator + "BenchmarkAdmitOverhead/n=1000-2\t5\t900000000 ns/op\t1.12 ratio\n",
			mls:   row{"admit n=1000 in one commit / MLS alone", "1.12", "≤ 1.30", "pass"},
			tss:   row{"ts-mls add / admit in one commit", "-", "≥ 10×", "not measured"},
		},
		{
			name:  "admission benchmarks outside the moderator do not count",
			input: "pkg: example.com/other\nBenchmarkAdmit/n=10-2\t10\t5 ns/op\nBenchmarkAdmit/n=10/mls-2\t10\t5 ns/op\n",
			mls:   row{"admit in one commit / MLS alone", "-", "≤ 1.30", "not measured"},
			tss:   row{"ts-mls add / admit in one commit", "-", "≥ 10×", "not measured"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parse(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			rows := admissionRows(rs)
			if len(rows) != 2 || rows[0] != tc.mls || rows[1] != tc.tss {
				t.Fatalf("rows = %+v\nwant [%+v %+v]", rows, tc.mls, tc.tss)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{duration(367.6), "368 ns"},
		{duration(2784), "2.78 µs"},
		{duration(35951), "36.0 µs"},
		{duration(202255), "202 µs"},
		{duration(12767780), "12.8 ms"},
		{duration(1.5e9), "1.50 s"},
		{perSecond(2682.4), "2,682 /s"},
		{perSecond(123456789), "123,456,789 /s"},
		{perSecond(999), "999 /s"},
		{times(38), "38.0×"},
		{mebibytes(52_428_800), "50.0 MiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestRun(t *testing.T) {
	failing := "pkg: github.com/slimid/slimid/broker\nBenchmarkVerifyPaths/cache-hit-2\t10\t5000 ns/op\n"
	dir := t.TempDir()
	file := dir + "/bench.out"
	if err := os.WriteFile(file, []byte(failing), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		code       int
		stdout     string // a line the output must hold
		stderrLine string
	}{
		{"from a file", []string{file}, "", 0, "shared_secret verify, cache hit 5.00 µs < 2 µs FAIL", ""},
		{"from stdin", nil, failing, 0, "slimid benchmarks (GOMAXPROCS 2, from standard input)", ""},
		{"check fails on a missed target", []string{"-check", "-"}, failing, exitMissed, "0 of 9 targets met, 1 missed, 8 not measured", ""},
		{"no results", nil, "PASS\n", exitUsage, "", "slimid-benchreport: no benchmark results in standard input; give it the output of go test -bench\n"},
		{"missing file", []string{dir + "/nope"}, "", exitUsage, "", "slimid-benchreport: open " + dir + "/nope: no such file or directory\n"},
		{"two files", []string{file, file}, "", exitUsage, "", "usage: slimid-benchreport [-check] [FILE|-]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			if !strings.Contains(squeeze(stdout.String()), tc.stdout) {
				t.Fatalf("stdout lacks %q:\n%s", tc.stdout, &stdout)
			}
			if tc.stderrLine != "" && !strings.HasPrefix(stderr.String(), tc.stderrLine) {
				t.Fatalf("stderr = %q; want it to start with %q", &stderr, tc.stderrLine)
			}
		})
	}
}

// squeeze collapses runs of white space to one space, so table lines
// compare without their padding.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestClassifyAdmissionVariants(t *testing.T) {
	for name, want := range map[string]admissionVariant{
		"BenchmarkAdmitVsTsMLS/n=1/moderator":       variantAdmit,
		"BenchmarkAdmitVsTsMLS/n=1/moderator-tmpfs": variantOther,
		"BenchmarkAdmitVsTsMLS/n=100/tsmls":         variantTSMLS,
		"BenchmarkAdmit/n=10":                       variantAdmit,
		"BenchmarkAdmit/n=10/mls-alone":             variantMLS,
		"BenchmarkAdmitMLSOnly/n=10":                variantMLS,
		"BenchmarkAdmitTsMLS/n=10":                  variantTSMLS,
	} {
		if got := classify(name); got != want {
			t.Errorf("classify(%s) = %v; want %v", name, got, want)
		}
	}
}

// The paired external-vs-echo measurement decides the ratio when present.
func TestExternalRatioPrefersPairedRun(t *testing.T) {
	input := `pkg: github.com/slimid/slimid/broker
BenchmarkVerifyPaths/direct-2   	 1000	      2000 ns/op
BenchmarkVerifyPaths/external-2 	 1000	    150000 ns/op
BenchmarkVerifyPaths/echo-2     	 1000	    100000 ns/op
BenchmarkVerifyPaths/external-vs-echo-2 	 1000	    250000 ns/op	    130000 echo-ns/op	    154000 external-ns/op
`
	rs, err := parse(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	got := externalRatio(rs, rs.ns("broker", "BenchmarkVerifyPaths/external"), rs.ns("broker", "BenchmarkVerifyPaths/echo"), rs.ns("broker", "BenchmarkVerifyPaths/direct"))
	if !got.ok || got.v < 1.1666 || got.v > 1.1667 {
		t.Fatalf("ratio = %+v; want 154000 / (130000 + 2000) = 1.1667", got)
	}
}
