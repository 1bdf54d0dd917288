package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pdex-conform/pdex-conform/bench"
)

const benchUsage = `Usage: pdex-conform bench [flags]

Measures performance at several data set sizes (default 300, 3000 and 10000
members: about 5,000, 50,000 and 170,000 resources in the full Group
export). At each size, the data set is generated and loaded into a
reference database (kept in --dir for the next time), and measured, each
measurement in its own child process so that its CPU time and peak memory
are its own:

  - the whole suite, as a payer runs it against its endpoint (serve, then
    run --config): seconds, CPU seconds, peak memory, disk used by the
    downloaded files, and the time of each scenario area, with the growth
    exponent from one size to the next (1 is linear);
  - the reference server's export of one Group end to end;
  - validation of the exported NDJSON (structure + profiles + PDex rules, as
    'validate' does it) beside the parse floor of the same lines: a bare JSON
    decode and google/fhir/go's R4 parse.

The table ends with the targets and whether they are met. The machine's
load average is printed with the figures. Needs the FHIR packages
(--packages or FHIR_PACKAGES).

Flags:
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchUsage, stderr)
	var (
		members    = fs.String("members", "300,3000,10000", "data set sizes in members, comma-separated")
		runs       = fs.Int("runs", 1, "repetitions of each measurement (the table shows median and spread)")
		dir        = fs.String("dir", "", "work folder, kept (a prepared database there is reused); default a temporary one")
		suite      = fs.Bool("suite", true, "measure the whole suite at every size")
		labels     = fs.String("label-filter", "", "run only these specs in the suite measurement (Ginkgo label filter)")
		validation = fs.Bool("validation", true, "measure validation and the parse floor at every size")
		lines      = fs.Int("lines", 0, "also validate the largest export repeated to about this many lines (e.g. 1000000)")
		profiles   = fs.String("cpuprofile", "", "write a CPU profile of each suite run into this folder")
		asJSON     = fs.Bool("json", false, "print the report as JSON instead of a table")
		table      = fs.String("table", "", "print the table of a report saved with --json, and measure nothing")
		verbose    = fs.Bool("verbose", false, "pass the measurements' own output through to stderr")
		pkgs       listFlag
	)
	fs.Var(&pkgs, "packages", "FHIR package .tgz or folder (repeatable; also FHIR_PACKAGES and ~/.fhir/packages)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments, got %q", fs.Arg(0))
	}
	if *table != "" {
		raw, err := os.ReadFile(*table)
		if err != nil {
			return usagef("--table: %v", err)
		}
		var rep bench.Report
		if err := json.Unmarshal(raw, &rep); err != nil {
			return usagef("--table %s is not a bench report: %v", *table, err)
		}
		return bench.WriteTable(stdout, &rep)
	}
	var sizes []int
	for _, f := range strings.Split(*members, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 8 {
			return usagef("--members: %q is not a size of at least 8 members", f)
		}
		sizes = append(sizes, n)
	}
	if *runs < 1 {
		return usagef("--runs must be at least 1")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run the measurements: %w", err)
	}
	o := bench.Options{
		Members: sizes, Runs: *runs, Dir: *dir, Packages: pkgs,
		Suite: *suite, Labels: *labels, Validation: *validation, Lines: *lines, ProfileDir: *profiles,
		Self:     []string{exe},
		Progress: func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) },
	}
	if *verbose {
		o.Log = stderr
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return bench.WriteTable(stdout, rep)
}

// cmdBenchChild runs one measurement for cmdBench in this process.
func cmdBenchChild(ctx context.Context, args []string, stdout io.Writer) error {
	return bench.Child(ctx, args, os.Stdin, stdout)
}
