package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable writes the rows as one aligned table under a heading, then a
// line that counts the targets met, if any row has one.
func printTable(w io.Writer, heading string, rows []row) error {
	if heading != "" {
		if _, err := fmt.Fprintln(w, heading); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tRESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.figure, r.value, r.target, r.result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s := summary(rows); s != "" {
		_, err := fmt.Fprintln(w, s)
		return err
	}
	return nil
}

// summary counts the rows that have a target by their result; "" when
// none has one.
func summary(rows []row) string {
	counts := map[string]int{}
	targets := 0
	for _, r := range rows {
		if r.target == "-" {
			continue
		}
		targets++
		counts[r.result]++
	}
	if targets == 0 {
		return ""
	}
	parts := []string{fmt.Sprintf("%d of %d targets met", counts[resultPass], targets)}
	if n := counts[resultFail]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d missed", n))
	}
	if n := counts[resultNotMeasured] + counts[resultFailed]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not measured", n))
	}
	return strings.Join(parts, ", ")
}

// missed reports whether a row with a target failed it.
func missed(rows []row) bool {
	for _, r := range rows {
		if r.result == resultFail {
			return true
		}
	}
	return false
}

// heading describes the machine the figures come from.
func heading(rs *results, source string) string {
	var parts []string
	if rs.cpu != "" {
		parts = append(parts, "cpu "+rs.cpu)
	}
	if rs.procs > 0 {
		parts = append(parts, fmt.Sprintf("GOMAXPROCS %d", rs.procs))
	}
	parts = append(parts, "from "+source)
	return "slimid benchmarks (" + strings.Join(parts, ", ") + ")"
}
