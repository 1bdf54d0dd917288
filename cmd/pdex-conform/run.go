package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/mattn/go-isatty"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/verdict"
)

const runUsage = `Usage: pdex-conform run --target URL|reference [flags]

Drives a Provider Access endpoint through every scenario of the PDex IG and
reports, requirement by requirement, whether it conforms. --target reference
starts the in-repo reference server in process. Flags override --config.
Secrets may come from PDEX_CONFORM_PRIVATE_KEY and PDEX_CONFORM_BEARER_TOKEN.

Exit codes: 0 conformant (every SHALL requirement of the edition tested and
met), 1 failures, 2 bad usage or configuration, 3 incomplete (nothing failed,
but SHALL requirements were untested, skipped or blocked; the verdict lists
them).

Flags:
`

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", runUsage, stderr)
	var (
		cfgFile   = fs.String("config", "", "YAML run configuration (see README)")
		target    = fs.String("target", "", `FHIR base URL of the endpoint, or "reference"`)
		edition   = fs.String("edition", "", `PDex edition the target implements: 2.0.0, 2.1.0, 2.2.0, or "auto" (the default) to read it from the target's CapabilityStatement`)
		group     = fs.String("group", "", "id of the attribution Group to export")
		members   listFlag
		optedOut  listFlag
		faults    listFlag
		variants  listFlag
		packages  listFlag
		htmlOut   = fs.String("report", "", "write the HTML report to this file")
		junitOut  = fs.String("junit", "", "write a JUnit XML report to this file")
		jsonOut   = fs.String("json", "", "write the JSON results to this file")
		labels    = fs.String("label-filter", "", `run only specs matching this Ginkgo label filter, e.g. "PA-EXP-01 || SHALL"`)
		failOn    = fs.String("fail-on", "", `"shall" (default) or "should": whether failed SHOULD specs fail the run`)
		strict    = fs.Bool("strict", false, "strict gate: SHOULD failures fail the run (as --fail-on should)")
		quiet     = fs.Bool("quiet", false, "print only the verdict line")
		verbose   = fs.Bool("verbose", false, "print every spec as it runs")
		exportTO  config.Duration
		requestTO = fs.Duration("request-timeout", 0, "bound on one HTTP exchange (default 30s)")
		operation = fs.String("operation", "", `export operation to drive: "davinci-data-export" (PDex, default) or "export" (plain Bulk Data $export: a gap analysis, never a PDex verdict)`)
	)
	fs.Var(&members, "members", "member patient ids for subset scenarios (repeatable or comma-separated)")
	fs.Var(&optedOut, "opted-out", "patient ids of every member who has opted out")
	fs.Var(&faults, "fault", "switch on a reference-server fault (with --target reference; see serve --list-faults)")
	fs.Var(&variants, "variant", "switch on a conformant variation of the reference server (with --target reference; see serve --list-variants)")
	fs.Var(&packages, "packages", "FHIR package .tgz or folder for profile validation (repeatable; also FHIR_PACKAGES)")
	fs.Var(&exportTO, "export-timeout", "how long one export may go without progress (a new X-Progress restarts the clock), or \"unlimited\" (default 5m)")
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
	setIf(&cfg.Operation, *operation)
	if *strict {
		cfg.Strict = true
	}
	if len(members) > 0 {
		cfg.Members = members
	}
	if len(optedOut) > 0 {
		cfg.OptedOut = optedOut
	}
	cfg.Faults = append(cfg.Faults, faults...)
	cfg.Variants = append(cfg.Variants, variants...)
	cfg.Packages = append(cfg.Packages, packages...)
	if exportTO.Duration > 0 || exportTO.Unlimited {
		cfg.Timeouts.Export = exportTO
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
	reference := cfg.Target == "reference"
	con := newConsole(stdout, stderr, *quiet, *verbose, cfg)
	defer con.captureGinkgo()()
	opts := runner.Options{Verbose: *verbose, NoColor: !con.errColor, Packages: cfg.Packages, Progress: con.progress}
	if *quiet {
		opts.Progress = nil
	}
	con.progress("running the suites against %s", targetName(cfg.Target))
	res, err := runner.Run(ctx, cfg, opts)
	var unreachable *runner.UnreachableError
	if errors.As(err, &unreachable) {
		// Nothing to judge: one line, and the exit code of a failure.
		return &failuresError{msg: con.scrub(err.Error())}
	}
	if err != nil {
		return usagef("%s", con.scrub(err.Error()))
	}
	var faultsOn []string
	if reference {
		faultsOn = res.Config.Faults // the switches only exist on the reference server
	}
	meta := res.Meta(toolVersion(), reference)
	meta.Faults, meta.Secrets = faultsOn, secretsOf(res.Config)
	model := reports.Build(res.Report, res.Outcome, meta)
	var written []string
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
		written = append(written, w.path)
	}
	if !*quiet {
		con.summary(model, written)
	}
	con.verdictLine(model)
	switch res.Outcome.ExitCode {
	case verdict.ExitFailures:
		return &failuresError{}
	case verdict.ExitIncomplete:
		return &incompleteError{}
	}
	return nil
}

func targetName(t string) string {
	if t == "reference" {
		return "the in-process reference server"
	}
	return t
}

// secretsOf lists the configured secret values, which the reports and the
// console scrub from everything they print.
func secretsOf(cfg *config.Config) []string {
	s := []string{cfg.Auth.PrivateKey, cfg.Auth.BearerToken}
	if cfg.Auth.Other != nil {
		s = append(s, cfg.Auth.Other.PrivateKey)
	}
	return s
}

// toolVersion names the build that ran, for the reports: the version set
// at build time (-ldflags "-X main.version=…"), or else what the Go
// toolchain stamped into the binary (the module version, or the VCS
// revision and whether the tree was modified), or, for a build with neither
// (go run), a hash of the executable itself, so that a report always says
// exactly which program produced it.
func toolVersion() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel (no build information)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v + " (" + bi.GoVersion + ")"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		return fmt.Sprintf("devel %s (%s%s, %s)", rev, when, dirty, bi.GoVersion)
	}
	if sum := executableHash(); sum != "" {
		return fmt.Sprintf("devel build %s (%s)", sum, bi.GoVersion)
	}
	return "devel (" + bi.GoVersion + ")"
}

// executableHash is the SHA-256 of the running executable, shortened.
func executableHash() string {
	path, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
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
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
