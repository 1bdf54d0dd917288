package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/runner/config"
)

const runUsage = `Usage: pdex-conform run --target URL|reference [flags]

Drives a Provider Access endpoint through every scenario of the PDex IG and
reports, requirement by requirement, whether it conforms. --target reference
starts the in-repo reference server in process. Flags override --config.
Secrets may come from PDEX_CONFORM_PRIVATE_KEY and PDEX_CONFORM_BEARER_TOKEN.

Exit codes: 0 conformant, 1 failures, 2 bad usage or configuration.

Flags:
`

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", runUsage, stderr)
	var (
		cfgFile   = fs.String("config", "", "YAML run configuration (see README)")
		target    = fs.String("target", "", `FHIR base URL of the endpoint, or "reference"`)
		edition   = fs.String("edition", "", "PDex edition the target implements (default 2.0.0)")
		group     = fs.String("group", "", "id of the attribution Group to export")
		members   listFlag
		optedOut  listFlag
		faults    listFlag
		packages  listFlag
		htmlOut   = fs.String("report", "", "write the HTML report to this file")
		junitOut  = fs.String("junit", "", "write a JUnit XML report to this file")
		jsonOut   = fs.String("json", "", "write the JSON results to this file")
		labels    = fs.String("label-filter", "", `run only specs matching this Ginkgo label filter, e.g. "PA-EXP-01 || SHALL"`)
		failOn    = fs.String("fail-on", "", `"shall" (default) or "should": whether failed SHOULD specs fail the run`)
		quiet     = fs.Bool("quiet", false, "print only the verdict line")
		verbose   = fs.Bool("verbose", false, "print every spec as it runs")
		exportTO  = fs.Duration("export-timeout", 0, "bound on one export, kick-off to last file (default 5m)")
		requestTO = fs.Duration("request-timeout", 0, "bound on one HTTP exchange (default 30s)")
	)
	fs.Var(&members, "members", "member patient ids for subset scenarios (repeatable or comma-separated)")
	fs.Var(&optedOut, "opted-out", "patient ids of members known to have opted out")
	fs.Var(&faults, "fault", "switch on a reference-server fault (with --target reference; see serve --list-faults)")
	fs.Var(&packages, "packages", "FHIR package .tgz or folder for profile validation (repeatable; also FHIR_PACKAGES)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run takes no arguments, got %q", fs.Arg(0))
	}
	cfg := &config.Config{}
	if *cfgFile != "" {
		c, err := config.Load(*cfgFile)
		if err != nil {
			return usagef("%v", err)
		}
		cfg = c
	}
	setIf(&cfg.Target, *target)
	setIf(&cfg.Edition, *edition)
	setIf(&cfg.Group, *group)
	setIf(&cfg.LabelFilter, *labels)
	setIf(&cfg.FailOn, *failOn)
	if len(members) > 0 {
		cfg.Members = members
	}
	if len(optedOut) > 0 {
		cfg.OptedOut = optedOut
	}
	cfg.Faults = append(cfg.Faults, faults...)
	cfg.Packages = append(cfg.Packages, packages...)
	if *exportTO > 0 {
		cfg.Timeouts.Export.Duration = *exportTO
	}
	if *requestTO > 0 {
		cfg.Timeouts.Request.Duration = *requestTO
	}
	if cfg.Target != "reference" && cfg.Target != "" && cfg.Group == "" {
		return usagef("no group: give --group ID or group: in the config")
	}
	for _, out := range []string{*htmlOut, *junitOut, *jsonOut} {
		if out == "" {
			continue
		}
		if dir := filepath.Dir(out); dir != "." {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usagef("cannot write %s: folder %s does not exist", out, dir)
			}
		}
	}
	tty := isTerminal(stdout)
	opts := runner.Options{Verbose: *verbose, NoColor: !tty, Packages: cfg.Packages}
	if !*quiet {
		opts.Progress = func(format string, a ...any) {
			fmt.Fprintf(stderr, "  "+format+"\n", a...)
		}
	}
	res, err := runner.Run(ctx, cfg, opts)
	if err != nil {
		return usagef("%v", err)
	}
	model := reports.Build(res.Report, reports.Meta{
		Target: res.Config.Target, Edition: res.Config.Edition, ToolVersion: version,
		Started: res.Started, Duration: res.Duration, FailOnShould: res.Config.FailOn == "should",
	})
	for _, w := range []struct {
		path  string
		write func(io.Writer, *reports.Run) error
	}{{*htmlOut, reports.WriteHTML}, {*junitOut, reports.WriteJUnit}, {*jsonOut, reports.WriteJSON}} {
		if w.path == "" {
			continue
		}
		if err := writeFile(w.path, func(f io.Writer) error { return w.write(f, model) }); err != nil {
			return err
		}
	}
	if !*quiet {
		printSummary(stdout, model, tty)
	}
	fmt.Fprintf(stdout, "%s: %s (%d passed, %d failed, %d warnings, %d skipped) in %s\n",
		model.Meta.Target, model.Verdict, model.Counts.Passed, model.Counts.Failed, model.Counts.Warnings, model.Counts.Skipped,
		res.Duration.Round(100*time.Millisecond))
	if model.Failed() {
		return &failuresError{}
	}
	return nil
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return usagef("cannot write %s: %v", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// printSummary prints the per-area table and the failed specs.
func printSummary(w io.Writer, r *reports.Run, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tPASSED\tFAILED\tWARNINGS\tSKIPPED")
	for _, a := range r.Areas {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", a.Name, a.Passed, a.Failed, a.Warnings, a.Skipped)
	}
	tw.Flush()
	var failed []string
	for _, s := range r.Specs {
		if s.State == reports.Failed || s.State == reports.Warning {
			mark := paint("31", "FAIL")
			if s.State == reports.Warning {
				mark = paint("33", "WARN")
			}
			failed = append(failed, fmt.Sprintf("  %s [%s] %s: %s", mark, strings.Join(s.Requirements, ","), s.Name, firstLine(s.Failure)))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(w)
		for _, f := range failed {
			fmt.Fprintln(w, f)
		}
	}
	fmt.Fprintln(w)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
