// Command pdex-conform tests a Da Vinci PDex Provider Access API endpoint for
// conformance, validates FHIR resources against the PDex, CARIN and US Core
// profiles, and runs the reference Provider Access server.
//
// Exit codes: 0 conformant / valid, 1 conformance or validation failures,
// 2 bad usage or configuration, 3 incomplete (nothing failed, but not
// everything required could be checked).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/pdex-conform/pdex-conform/bench"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes (package verdict decides which a run earns).
const (
	exitOK         = verdict.ExitConformant
	exitFailures   = verdict.ExitFailures
	exitUsage      = verdict.ExitUsage
	exitIncomplete = verdict.ExitIncomplete
)

// usageError is bad usage or configuration: exit 2 with one plain line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// failuresError means the command ran and found failures: exit 1.
type failuresError struct{ msg string }

func (e *failuresError) Error() string { return e.msg }

// incompleteError means the command ran, found no failure, but could not
// check everything it must: exit 3.
type incompleteError struct{ msg string }

func (e *incompleteError) Error() string { return e.msg }

const topUsage = `pdex-conform: conformance tests for the Da Vinci PDex Provider Access API

Usage:
  pdex-conform run --target URL|reference [flags]   run the conformance suites
  pdex-conform serve [flags]                        run the reference server
  pdex-conform validate [flags] FILE|DIR|- ...      validate FHIR resources
  pdex-conform fixtures generate [flags]            write a synthetic payer data set
  pdex-conform packages list|install                show or install FHIR packages
  pdex-conform bench [flags]                        measure performance (table or --json)
  pdex-conform version                              print the version

Run 'pdex-conform COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		tuneGC()
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "serve":
		tuneServerGC()
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "validate":
		tuneGC()
		err = cmdValidate(ctx, args[1:], stdout, stderr)
	case "fixtures":
		err = cmdFixtures(ctx, args[1:], stdout, stderr)
	case "packages":
		err = cmdPackages(ctx, args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case bench.ChildCommand:
		// Hidden: one measurement of `bench`, in its own process, tuned as
		// the command it stands for.
		if len(args) > 1 && (args[1] == "validate" || args[1] == "harness") {
			tuneGC()
		}
		if len(args) > 1 && args[1] == "serve" {
			tuneServerGC()
		}
		err = cmdBenchChild(ctx, args[1:], stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "pdex-conform", toolVersion())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
	default:
		err = usagef("unknown command %q (see pdex-conform --help)", args[0])
	}
	return exitCode(err, stderr)
}

// tuneGC trades memory for CPU in the commands that validate many
// resources. Validation allocates heavily (google/fhir/go builds a protobuf
// message tree per resource), and at Go's default GOGC=100 the collector
// took about a sixth of the CPU; at 400 it collects a quarter as often
// (BenchmarkCheckParallel: 390 to 325 CPU-µs per resource). The soft memory
// limit keeps the heap, and so peak memory, bounded and flat whatever the
// input's size. GOGC and GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
}

// tuneServerGC bounds the reference server's heap. Its live heap is about
// 20 MB whatever it serves, but at the default GOGC the heap goal drifts
// up with the allocation rate of a large export (each row and file chunk
// is a fresh buffer from the SQLite driver): a soft limit keeps its memory
// flat from small exports to large ones. GOMEMLIMIT in the environment wins.
func tuneServerGC() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "pdex-conform: "+oneLine(ue.msg))
		return exitUsage
	}
	var fe *failuresError
	if errors.As(err, &fe) {
		if fe.msg != "" {
			fmt.Fprintln(stderr, "pdex-conform: "+oneLine(fe.msg))
		}
		return exitFailures
	}
	var ie *incompleteError
	if errors.As(err, &ie) {
		if ie.msg != "" {
			fmt.Fprintln(stderr, "pdex-conform: "+oneLine(ie.msg))
		}
		return exitIncomplete
	}
	// Anything else stopped the command from doing its job: a configuration
	// or environment problem the user must fix.
	fmt.Fprintln(stderr, "pdex-conform: "+oneLine(err.Error()))
	return exitUsage
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a bad flag is a usage error (the flag package has
// already printed why and the usage).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

// listFlag collects a repeatable flag; values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
