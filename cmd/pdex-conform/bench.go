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

Measures performance at several data set sizes (default 60, 600 and 6000
members: x1, x10 and x100 of the default data): validation of the exported
NDJSON mix and of claim EOBs alone (structure + profiles + PDex rules, as
'validate' does it; resources/s, start-up, peak memory), the reference
server's export of one Group end to end (kick-off to last file downloaded;
resources/s, server memory), and the harness (full export + PA-PROF-01
specs) against the largest export, compared with validation alone. Each
measurement runs in its own child process, so its peak memory is its own.
Needs the FHIR packages (--packages or FHIR_PACKAGES).

Flags:
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchUsage, stderr)
	var (
		members    = fs.String("members", "60,600,6000", "data set sizes in members, comma-separated")
		runs       = fs.Int("runs", 3, "repetitions of each measurement (the table shows median and spread)")
		dir        = fs.String("dir", "", "work folder, kept (a prepared database there is reused); default a temporary one")
		harness    = fs.Bool("harness", true, "measure the harness against the largest export")
		defaultRun = fs.Bool("default-run", true, "measure the full default run against --target reference")
		lines      = fs.Int("lines", 0, "also validate the largest export repeated to about this many lines (e.g. 1000000)")
		asJSON     = fs.Bool("json", false, "print the report as JSON instead of a table")
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
		Harness: *harness, DefaultRun: *defaultRun, Lines: *lines,
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
