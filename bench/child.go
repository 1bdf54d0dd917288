package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/stream"
)

// ChildCommand is the hidden subcommand under which the benchmark re-executes
// its own binary for each measurement: a fresh process per measurement is
// what makes its peak memory (VmHWM) that measurement's alone.
const ChildCommand = "bench-child"

// resultPrefix marks the lines a child prints for its parent; anything else
// on its standard output (Ginkgo's report, for one) is not for the parent.
const resultPrefix = "BENCH-RESULT "

// Child runs one measurement in this process (the child side of
// ChildCommand). args are what follows ChildCommand: the measurement's kind
// and its flags. It prints its result as one marked JSON line on stdout.
func Child(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("bench child: no measurement named")
	}
	kind, args := args[0], args[1:]
	fs := flag.NewFlagSet(ChildCommand+" "+kind, flag.ContinueOnError)
	var (
		members  = fs.Int("members", 0, "members of the generated data set")
		dir      = fs.String("dir", "", "folder to write in")
		db       = fs.String("db", "", "reference database")
		cfgPath  = fs.String("config", "", "run configuration")
		repeat   = fs.Int("repeat", 1, "validate the inputs this many times over")
		labels   = fs.String("labels", "", "Ginkgo label filter")
		claims   = fs.String("claims", "", "also write the claim EOBs of the export to this file")
		packages listFlag
	)
	fs.Var(&packages, "packages", "FHIR package path (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var res any
	var err error
	switch kind {
	case "prepare":
		res, err = childPrepare(ctx, *members, *dir)
	case "serve":
		return childServe(ctx, *db, *cfgPath, stdin, stdout)
	case "export":
		res, err = childExport(ctx, *cfgPath, *dir, *claims)
	case "validate":
		res, err = childValidate(ctx, fs.Args(), *repeat, packages)
	case "harness":
		res, err = childHarness(ctx, *cfgPath, *labels, packages)
	default:
		return fmt.Errorf("bench child: unknown measurement %q", kind)
	}
	if err != nil {
		return err
	}
	return emitResult(stdout, res)
}

func emitResult(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// A newline first: what was printed before may not have ended its line.
	_, err = fmt.Fprintf(w, "\n%s%s\n", resultPrefix, b)
	return err
}

// prepared is what the prepare child reports.
type prepared struct {
	Resources int     `json:"resources"`
	Seconds   float64 `json:"seconds"`
}

// childPrepare generates a data set and loads it into dir/reference.db.
func childPrepare(ctx context.Context, members int, dir string) (*prepared, error) {
	start := time.Now()
	o := fixtures.DefaultOptions()
	o.Members = members
	o.OptedOut = 0 // derived from Members, as `fixtures generate` does
	d, err := fixtures.Generate(o)
	if err != nil {
		return nil, err
	}
	srv, err := reference.New(ctx, reference.Options{DB: filepath.Join(dir, "reference.db"), Data: d, BaseURL: "http://127.0.0.1"})
	if err != nil {
		return nil, fmt.Errorf("loading %d members into the reference database: %w", members, err)
	}
	if err := srv.Close(); err != nil {
		return nil, err
	}
	return &prepared{Resources: len(d.Resources), Seconds: time.Since(start).Seconds()}, nil
}

// serving is what the serve child reports when it listens.
type serving struct {
	URL string `json:"url"`
}

// childServe serves a prepared database until stdin closes, answering each
// "mem" line with its memory.
func childServe(ctx context.Context, db, cfgPath string, stdin io.Reader, stdout io.Writer) error {
	srv, err := reference.Listen(ctx, "127.0.0.1:0", reference.Options{DB: db})
	if err != nil {
		return err
	}
	defer srv.Close()
	facts, err := srv.Facts(ctx)
	if err != nil {
		return err
	}
	cfg := runner.ReferenceConfig(facts)
	if err := cfg.Write(cfgPath); err != nil {
		return err
	}
	if err := emitResult(stdout, serving{URL: srv.URL}); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "mem" {
			m, err := readMemory()
			if err != nil {
				return err
			}
			if err := emitResult(stdout, m); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// exported is what the export child reports.
type exported struct {
	Resources int     `json:"resources"`
	Files     int     `json:"files"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	Claims    int     `json:"claims"`
	Memory    memory  `json:"memory"`
}

// childExport runs one full Group export as the harness's client does
// (POST kick-off, polling that honours Retry-After, four parallel
// downloads to files), timed from kick-off to the last file on disk.
func childExport(ctx context.Context, cfgPath, dir, claims string) (*exported, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg.Defaults()
	hc := &http.Client{}
	creds, err := runner.Credentials(ctx, cfg, hc)
	if err != nil {
		return nil, err
	}
	ts := &smart.TokenSource{Credentials: creds, HTTPClient: hc}
	// The token is fetched first: the measurement is the export.
	if _, err := ts.Token(ctx); err != nil {
		return nil, err
	}
	c := &bulk.Client{Base: cfg.Target, HTTP: hc, Auth: ts}
	start := time.Now()
	k, err := c.StartExport(ctx, bulk.Kickoff{Group: cfg.Group, Params: []bulk.Param{
		{Name: "exportType", Type: "valueCanonical", Value: "hl7.fhir.us.davinci-pdex"},
		{Name: "exportMode", Type: "valueCode", Value: "snapshot"},
	}})
	if err != nil {
		return nil, err
	}
	if k.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("kick-off answered HTTP %d", k.StatusCode)
	}
	status := k.Header.Get("Content-Location")
	final, _, err := c.Poll(ctx, status, bulk.PollOptions{})
	if err != nil {
		return nil, err
	}
	if final.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status answered HTTP %d", final.StatusCode)
	}
	m, err := bulk.ParseManifest(final.Body)
	if err != nil {
		return nil, err
	}
	files := c.DownloadAll(ctx, m.Output, bulk.DownloadOptions{Dir: dir, WithToken: true})
	res := &exported{Seconds: time.Since(start).Seconds(), Files: len(files)}
	for _, f := range files {
		if f.Err != nil {
			return nil, f.Err
		}
		res.Resources += f.Lines
		res.Bytes += f.Bytes
	}
	if res.Memory, err = readMemory(); err != nil {
		return nil, err
	}
	// Deleting the finished job frees its files in the database, which
	// would otherwise grow by a whole export with every run.
	if _, err := c.Delete(ctx, status); err != nil {
		return nil, fmt.Errorf("deleting the export job: %w", err)
	}
	if claims != "" {
		if res.Claims, err = writeClaims(files, claims); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// writeClaims copies the claim EOBs (not prior authorizations) of an
// export into one file, for measuring validation of claims alone.
func writeClaims(files []bulk.File, path string) (int, error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	n := 0
	for _, f := range files {
		if f.Ref.Type != "ExplanationOfBenefit" {
			continue
		}
		err := eachLine(f.Path, func(line []byte) error {
			var h struct {
				Use string `json:"use"`
			}
			if json.Unmarshal(line, &h) != nil || h.Use == "preauthorization" {
				return nil
			}
			n++
			_, err := w.Write(line)
			return err
		})
		if err != nil {
			out.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return 0, err
	}
	return n, out.Close()
}

func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// validated is what the validate child reports. Times are wall-clock Unix
// nanoseconds, so that the parent can measure start-up from the moment it
// started the process.
type validated struct {
	Resources int      `json:"resources"`
	Errors    int      `json:"errors"`
	Warnings  int      `json:"warnings"`
	Sample    []string `json:"sample,omitempty"` // the first few errors
	Loaded    int64    `json:"loaded"`           // packages loaded
	First     int64    `json:"first"`            // first line validated
	End       int64    `json:"end"`
	Memory    memory   `json:"memory"`
}

// childValidate validates inputs as `pdex-conform validate` does (structure,
// profiles and PDex rules, every core, output in input order), repeat times
// over, discarding the issues but counting them.
func childValidate(ctx context.Context, inputs []string, repeat int, pkgs []string) (*validated, error) {
	if len(inputs) == 0 {
		return nil, errors.New("validate: no input")
	}
	reg, why, err := runner.LoadPackages(pkgs)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New(why)
	}
	chk := check.New(reg, check.Options{})
	res := &validated{Loaded: time.Now().UnixNano()}
	var all []string
	for range max(repeat, 1) {
		all = append(all, inputs...)
	}
	emit := func(it stream.Item) error {
		if res.First == 0 {
			res.First = time.Now().UnixNano()
		}
		for _, is := range it.Issues {
			if is.Severity == validators.Error && len(res.Sample) < 5 {
				res.Sample = append(res.Sample, fmt.Sprintf("%s:%d %s/%s %s: %s", filepath.Base(it.File), it.Line, it.Type, it.ID, is.Path, is.Message))
			}
		}
		return nil
	}
	t, err := stream.Run(ctx, all, chk.Check, emit, stream.Options{})
	if err != nil {
		return nil, err
	}
	res.End = time.Now().UnixNano()
	res.Resources, res.Errors, res.Warnings = t.Resources, t.Errors, t.Warnings
	if res.Memory, err = readMemory(); err != nil {
		return nil, err
	}
	return res, nil
}

// harnessed is what the harness child reports.
type harnessed struct {
	Seconds float64 `json:"seconds"` // runner.Run from call to return
	Specs   int     `json:"specs"`
	Passed  int     `json:"passed"`
	Failed  int     `json:"failed"`
	Memory  memory  `json:"memory"`
}

// childHarness runs the suites with runner.Run against the configured
// target ("reference" for the in-process server on the default data).
func childHarness(ctx context.Context, cfgPath, labels string, pkgs []string) (*harnessed, error) {
	cfg := &config.Config{Target: "reference"}
	if cfgPath != "" {
		c, err := config.Load(cfgPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	cfg.LabelFilter = labels
	start := time.Now()
	r, err := runner.Run(ctx, cfg, runner.Options{NoColor: true, Packages: pkgs})
	if err != nil {
		return nil, err
	}
	res := &harnessed{Seconds: time.Since(start).Seconds()}
	for _, s := range r.Report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		switch {
		case s.State.Is(types.SpecStatePassed):
			res.Specs++
			res.Passed++
		case s.State.Is(types.SpecStateFailureStates):
			res.Specs++
			res.Failed++
		}
	}
	if res.Memory, err = readMemory(); err != nil {
		return nil, err
	}
	return res, nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
