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
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/ndjson"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/r4"
	"github.com/pdex-conform/pdex-conform/validators/stream"
	"github.com/pdex-conform/pdex-conform/verdict"
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
		profile  = fs.String("cpuprofile", "", "write a CPU profile of the suite run to this file")
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
	case "floor":
		res, err = childFloor(ctx, fs.Args(), packages)
	case "suite":
		res, err = childSuite(ctx, *cfgPath, *labels, *profile, packages)
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
			var eob map[string]any
			if json.Unmarshal(line, &eob) != nil || !pdex.IsClaimEOB(eob) {
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
	r := ndjson.NewReader(f, 0)
	for {
		_, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		// A fresh slice with its newline: callers keep lines and write
		// them out again.
		if err := fn(append(bytes.Clone(line), '\n')); err != nil {
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

// suited is what the suite child reports.
type suited struct {
	Seconds   float64        `json:"seconds"` // runner.Run from call to return
	Exported  int            `json:"exported"`
	Specs     int            `json:"specs"`
	Passed    int            `json:"passed"`
	Failed    int            `json:"failed"`
	Skipped   int            `json:"skipped"`
	Areas     []areaTime     `json:"areas"`
	Downloads bulk.DiskUsage `json:"downloads"`
	Memory    memory         `json:"memory"`
}

type areaTime struct {
	Name    string  `json:"name"`
	Specs   int     `json:"specs"`
	Seconds float64 `json:"seconds"`
}

// childSuite runs every spec (or those of labels) with runner.Run against
// the configured target, as `pdex-conform run --config` does, and times
// each scenario area: the sum of its specs' times, less the shared full
// export, which gets a line of its own.
func childSuite(ctx context.Context, cfgPath, labels, profile string, pkgs []string) (*suited, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg.LabelFilter = labels
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	r, err := runner.Run(ctx, cfg, runner.Options{NoColor: true, Packages: pkgs})
	if err != nil {
		return nil, err
	}
	res := &suited{Seconds: time.Since(start).Seconds(), Exported: r.FullExportResources, Downloads: r.Downloads}
	res.Areas = areaTimes(r)
	for _, s := range r.Outcome.Specs {
		if s.Filtered {
			continue
		}
		res.Specs++
		switch s.State {
		case verdict.Passed, verdict.Warning:
			res.Passed++
		case verdict.Failed:
			res.Failed++
		default:
			res.Skipped++
		}
	}
	if res.Memory, err = readMemory(); err != nil {
		return nil, err
	}
	return res, nil
}

// areaTimes sums the specs' times per area, in the order the areas first
// appear, taking out of each spec the part of the full export it spent.
func areaTimes(r *runner.Result) []areaTime {
	full := r.FullExport
	byName := map[string]*areaTime{}
	var out []*areaTime
	add := func(name string, d time.Duration, spec bool) {
		a := byName[name]
		if a == nil {
			a = &areaTime{Name: name}
			byName[name] = a
			out = append(out, a)
		}
		a.Seconds += d.Seconds()
		if spec {
			a.Specs++
		}
	}
	if !full.Start.IsZero() {
		add(FullExportArea, full.End.Sub(full.Start), false)
	}
	for _, s := range r.Outcome.Specs {
		if s.Filtered || s.Index >= len(r.Report.SpecReports) {
			continue
		}
		sr := r.Report.SpecReports[s.Index]
		d := sr.RunTime - overlap(sr.StartTime, sr.EndTime, full.Start, full.End)
		add(s.Area, max(d, 0), true)
	}
	res := make([]areaTime, len(out))
	for i, a := range out {
		res[i] = *a
	}
	return res
}

// overlap is how much of [a1, a2] lies in [b1, b2].
func overlap(a1, a2, b1, b2 time.Time) time.Duration {
	start, end := a1, a2
	if b1.After(start) {
		start = b1
	}
	if b2.Before(end) {
		end = b2
	}
	return max(end.Sub(start), 0)
}

// floored is what the floor child reports: three passes over the same
// lines, each on every core, one after the other in one process: a bare
// JSON decode into maps, google/fhir/go's R4 parse, and validation (every
// check, as `validate` runs it).
type floored struct {
	Lines  int    `json:"lines"`
	Decode timing `json:"decode"`
	R4     timing `json:"r4"`
	Check  timing `json:"check"`
}

// timing is one pass's wall-clock and CPU time. CPU time is what a shared
// machine inflates least; the ratio of two passes' CPU times is the
// steadier comparison.
type timing struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

// childFloor measures validation beside the parse floor of the lines of
// inputs (files or folders of *.ndjson): what any validation that decodes
// every line cannot beat. The passes run back to back in one process, so
// that the machine's load changes little between them. The google/fhir/go
// pass is validators/r4 on every core; when the validators export their
// own side-by-side measure (issue 12, item 3), this child should call it
// instead, so that both report one figure.
func childFloor(ctx context.Context, inputs []string, pkgs []string) (*floored, error) {
	files, err := ndjsonFiles(inputs)
	if err != nil {
		return nil, err
	}
	reg, why, err := runner.LoadPackages(pkgs)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New(why)
	}
	chk := check.New(reg, check.Options{})
	res := &floored{}
	pass := func(what string, newFn func() func([]byte) error) (timing, error) {
		start, cpu0 := time.Now(), processCPU()
		n, err := eachLineParallel(ctx, files, newFn)
		if err != nil {
			return timing{}, fmt.Errorf("%s: %w", what, err)
		}
		res.Lines = n
		return timing{Seconds: time.Since(start).Seconds(), CPUSeconds: (processCPU() - cpu0).Seconds()}, nil
	}
	if res.Decode, err = pass("decoding", func() func([]byte) error {
		return func(line []byte) error {
			var v map[string]any
			return json.Unmarshal(line, &v)
		}
	}); err != nil {
		return nil, err
	}
	if res.R4, err = pass("parsing with google/fhir/go", func() func([]byte) error {
		p, err := r4.New()
		if err != nil {
			return func([]byte) error { return err }
		}
		return func(line []byte) error {
			p.Check(line)
			return nil
		}
	}); err != nil {
		return nil, err
	}
	if res.Check, err = pass("validating", func() func([]byte) error {
		return func(line []byte) error {
			chk.Check(line)
			return nil
		}
	}); err != nil {
		return nil, err
	}
	return res, nil
}

// processCPU is the CPU time this process has used, every thread (Linux
// and the BSDs; 0 elsewhere).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ndjsonFiles lists the files of inputs: files as given, folders' *.ndjson.
func ndjsonFiles(inputs []string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, in)
			continue
		}
		m, err := filepath.Glob(filepath.Join(in, "*.ndjson"))
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		return nil, errors.New("no NDJSON input")
	}
	return out, nil
}

// eachLineParallel reads the files' lines in batches and hands them to one
// worker per core, each with its own fn (newFn is called once per worker).
func eachLineParallel(ctx context.Context, files []string, newFn func() func([]byte) error) (int, error) {
	batches := make(chan [][]byte, 2*runtime.GOMAXPROCS(0))
	errs := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		fn := newFn()
		wg.Go(func() {
			var first error
			for b := range batches {
				for _, line := range b {
					if err := fn(line); err != nil && first == nil {
						first = err
					}
				}
			}
			errs <- first
		})
	}
	n := 0
	var readErr error
	batch := make([][]byte, 0, 256)
	for _, f := range files {
		readErr = eachLine(f, func(line []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			n++
			batch = append(batch, line)
			if len(batch) == cap(batch) {
				batches <- batch
				batch = make([][]byte, 0, 256)
			}
			return nil
		})
		if readErr != nil {
			break
		}
	}
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && readErr == nil {
			readErr = err
		}
	}
	return n, readErr
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
