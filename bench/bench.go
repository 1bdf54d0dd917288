// Package bench measures pdex-conform's performance reproducibly, at several
// data set sizes: validation of an exported NDJSON mix (as `pdex-conform
// validate` does it), the reference server's export end to end, and the
// harness (runner.Run) against that export. Every measurement runs in a
// fresh child process that re-executes this binary, so that the peak memory
// it reports (the kernel's VmHWM) belongs to that measurement alone.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMembers are the sizes measured by default: ×1, ×10 and ×100 of the
// default data set's 60 members.
var DefaultMembers = []int{60, 600, 6000}

// HarnessLabels selects the specs of the full export and profile
// validation: the harness measurement runs exactly these.
const HarnessLabels = "PA-EXP-01 || PA-EXP-02 || PA-EXP-03 || PA-EXP-04 || PA-EXP-05 || PA-EXP-06 || PA-EXP-07 || PA-PROF-01"

// Options choose what to measure.
type Options struct {
	// Members are the data set sizes, in members; nil means DefaultMembers.
	Members []int
	// Runs repeats each measurement; the report gives the median and the
	// spread. 0 means 1.
	Runs int
	// Dir holds the generated data, databases and exports; "" means a
	// temporary folder removed afterwards. A prepared database found in Dir
	// is reused.
	Dir string
	// Packages are FHIR package paths (FHIR_PACKAGES and ~/.fhir/packages
	// are searched too); validation needs them.
	Packages []string
	// Harness measures runner.Run against the largest export.
	Harness bool
	// DefaultRun measures the full default run against --target reference.
	DefaultRun bool
	// Lines, when positive, also validates the largest export repeated
	// until about this many lines, to show memory does not grow with input.
	Lines int
	// Self is the command line that runs this binary's ChildCommand:
	// Self[0] is the executable, Self[1:] come before ChildCommand's
	// arguments (normally just ChildCommand).
	Self []string
	// Progress hears of each step; nil is quiet.
	Progress func(format string, args ...any)
	// Log receives the children's own output (stderr, and stdout other
	// than results); nil discards it.
	Log io.Writer
}

// Stat is a measured quantity over the runs.
type Stat struct {
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples []float64 `json:"samples"`
}

func newStat(samples []float64) Stat {
	if len(samples) == 0 {
		return Stat{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1], Samples: samples}
}

// Report is the outcome of a benchmark.
type Report struct {
	Started    time.Time `json:"started"`
	GoVersion  string    `json:"goVersion"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	Runs       int       `json:"runs"`
	// Load is the 1-minute load average read before each measurement.
	Load       Stat        `json:"load"`
	Sizes      []*Size     `json:"sizes"`
	DefaultRun *DefaultRun `json:"defaultRun,omitempty"`
}

// Size holds the measurements at one data set size.
type Size struct {
	Members int `json:"members"`
	// Resources is the whole data set (every Group, non-members too).
	Resources int `json:"resources"`
	// PrepareSeconds generated and loaded it (not a target; for reference).
	PrepareSeconds float64     `json:"prepareSeconds"`
	Export         *Export     `json:"export"`
	Validation     *Validation `json:"validation"`
	Claims         *Validation `json:"claims"`
	Repeated       *Validation `json:"repeated,omitempty"`
	Harness        *Harness    `json:"harness,omitempty"`
}

// Export is the reference server's export of one Group, kick-off to the
// last file downloaded.
type Export struct {
	Resources int   `json:"resources"`
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	Seconds   Stat  `json:"seconds"`
	PerSecond Stat  `json:"perSecond"`
	// ServerPeakMB is the server process's peak after each export (it
	// serves every run of a size, so the last is the peak of them all).
	ServerPeakMB Stat `json:"serverPeakMB"`
	ClientPeakMB Stat `json:"clientPeakMB"`
}

// Validation is `pdex-conform validate` over an export's files.
type Validation struct {
	Input     string `json:"input"`
	Resources int    `json:"resources"`
	Errors    int    `json:"errors"`
	Warnings  int    `json:"warnings"`
	// Sample holds the first errors, when there are any.
	Sample []string `json:"sample,omitempty"`
	// PerSecond is resources over the time from packages loaded to the
	// last resource validated.
	PerSecond Stat `json:"perSecond"`
	// StartupSeconds runs from starting the process to the first resource
	// validated (packages loaded on the way); PackagesSeconds to packages
	// loaded.
	StartupSeconds  Stat `json:"startupSeconds"`
	PackagesSeconds Stat `json:"packagesSeconds"`
	// TotalSeconds runs from starting the process to the last resource.
	TotalSeconds Stat `json:"totalSeconds"`
	PeakMB       Stat `json:"peakMB"`
}

// Harness is runner.Run with HarnessLabels against the export.
type Harness struct {
	Resources int  `json:"resources"`
	Seconds   Stat `json:"seconds"`
	// VsValidation is the median harness time over the median total time
	// of validating the same export alone.
	VsValidation float64 `json:"vsValidation"`
	Specs        int     `json:"specs"`
	Passed       int     `json:"passed"`
	Failed       int     `json:"failed"`
	PeakMB       Stat    `json:"peakMB"`
}

// DefaultRun is `pdex-conform run --target reference` with every spec.
type DefaultRun struct {
	// Seconds is runner.Run's time; ProcessSeconds adds process start-up.
	Seconds        Stat `json:"seconds"`
	ProcessSeconds Stat `json:"processSeconds"`
	Specs          int  `json:"specs"`
	Passed         int  `json:"passed"`
	Failed         int  `json:"failed"`
	PeakMB         Stat `json:"peakMB"`
}

// Run measures what o asks for and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if len(o.Self) == 0 {
		return nil, errors.New("bench: Options.Self is required (how to re-execute this binary)")
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if len(o.Members) == 0 {
		o.Members = DefaultMembers
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "pdex-conform-bench-")
		if err != nil {
			return nil, fmt.Errorf("creating a work folder: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	b := &bench{o: o, dir: dir}
	rep := &Report{Started: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Runs: o.Runs}
	largest := slices.Max(o.Members)
	for _, n := range o.Members {
		s, err := b.size(ctx, n, n == largest)
		if err != nil {
			return nil, fmt.Errorf("%d members: %w", n, err)
		}
		rep.Sizes = append(rep.Sizes, s)
	}
	if o.DefaultRun {
		d, err := b.defaultRun(ctx)
		if err != nil {
			return nil, fmt.Errorf("default run: %w", err)
		}
		rep.DefaultRun = d
	}
	rep.Load = newStat(b.load)
	return rep, nil
}

type bench struct {
	o    Options
	dir  string
	load []float64
}

func (b *bench) progress(format string, args ...any) {
	if b.o.Progress != nil {
		b.o.Progress(format, args...)
	}
}

func (b *bench) size(ctx context.Context, members int, largest bool) (*Size, error) {
	dir := filepath.Join(b.dir, fmt.Sprintf("members-%d", members))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Size{Members: members}
	var p prepared
	marker := filepath.Join(dir, "prepared.json")
	if raw, err := os.ReadFile(marker); err == nil && json.Unmarshal(raw, &p) == nil && p.Resources > 0 {
		b.progress("%d members: reusing the prepared database (%d resources)", members, p.Resources)
	} else {
		b.progress("%d members: generating the data set and loading the reference database", members)
		os.Remove(filepath.Join(dir, "reference.db"))
		if _, err := b.run(ctx, &p, "prepare", "--members", strconv.Itoa(members), "--dir", dir); err != nil {
			return nil, err
		}
		raw, _ := json.Marshal(p)
		if err := os.WriteFile(marker, raw, 0o644); err != nil {
			return nil, err
		}
	}
	s.Resources, s.PrepareSeconds = p.Resources, p.Seconds

	cfgPath := filepath.Join(dir, "run.yaml")
	srv, err := b.start(ctx, "serve", "--db", filepath.Join(dir, "reference.db"), "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	var ready serving
	if err := srv.next(&ready); err != nil {
		return nil, fmt.Errorf("starting the reference server: %w", err)
	}

	exportDir := filepath.Join(dir, "export")
	claims := filepath.Join(dir, "claims.ndjson")
	var secs, rates, client, server []float64
	s.Export = &Export{}
	for r := range b.o.Runs {
		out := filepath.Join(dir, fmt.Sprintf("export-run-%d", r))
		os.RemoveAll(out)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		args := []string{"--config", cfgPath, "--dir", out}
		if r == 0 {
			args = append(args, "--claims", claims)
		}
		b.progress("%d members: export run %d of %d", members, r+1, b.o.Runs)
		var e exported
		if _, err := b.run(ctx, &e, "export", args...); err != nil {
			return nil, err
		}
		var m memory
		if err := srv.ask("mem", &m); err != nil {
			return nil, fmt.Errorf("reading the server's memory: %w", err)
		}
		s.Export.Resources, s.Export.Files, s.Export.Bytes = e.Resources, e.Files, e.Bytes
		secs = append(secs, e.Seconds)
		rates = append(rates, float64(e.Resources)/e.Seconds)
		client = append(client, mb(e.Memory.PeakKB))
		server = append(server, mb(m.PeakKB))
		if r == 0 {
			os.RemoveAll(exportDir)
			if err := os.Rename(out, exportDir); err != nil {
				return nil, err
			}
		} else {
			os.RemoveAll(out)
		}
	}
	s.Export.Seconds, s.Export.PerSecond = newStat(secs), newStat(rates)
	s.Export.ClientPeakMB, s.Export.ServerPeakMB = newStat(client), newStat(server)

	if s.Validation, err = b.validate(ctx, members, "mixed export", 1, exportDir); err != nil {
		return nil, err
	}
	if s.Claims, err = b.validate(ctx, members, "claim EOBs", 1, claims); err != nil {
		return nil, err
	}
	if largest && b.o.Lines > 0 && s.Validation.Resources > 0 {
		times := (b.o.Lines + s.Validation.Resources - 1) / s.Validation.Resources
		if s.Repeated, err = b.validate(ctx, members, fmt.Sprintf("mixed export ×%d", times), times, exportDir); err != nil {
			return nil, err
		}
	}
	if largest && b.o.Harness {
		h := &Harness{Resources: s.Export.Resources}
		var secs, peak []float64
		for r := range b.o.Runs {
			b.progress("%d members: harness run %d of %d", members, r+1, b.o.Runs)
			var res harnessed
			args := []string{"--config", cfgPath, "--labels", HarnessLabels}
			if _, err := b.run(ctx, &res, "harness", append(args, b.packageArgs()...)...); err != nil {
				return nil, err
			}
			secs = append(secs, res.Seconds)
			peak = append(peak, mb(res.Memory.PeakKB))
			h.Specs, h.Passed, h.Failed = res.Specs, res.Passed, res.Failed
		}
		h.Seconds, h.PeakMB = newStat(secs), newStat(peak)
		if t := s.Validation.TotalSeconds.Median; t > 0 {
			h.VsValidation = h.Seconds.Median / t
		}
		s.Harness = h
	}
	return s, nil
}

func (b *bench) packageArgs() []string {
	var out []string
	for _, p := range b.o.Packages {
		out = append(out, "--packages", p)
	}
	return out
}

func (b *bench) validate(ctx context.Context, members int, input string, repeat int, path string) (*Validation, error) {
	v := &Validation{Input: input}
	var rate, startup, pkgs, total, peak []float64
	for r := range b.o.Runs {
		b.progress("%d members: validating the %s, run %d of %d", members, input, r+1, b.o.Runs)
		var res validated
		args := append([]string{"--repeat", strconv.Itoa(repeat)}, b.packageArgs()...)
		started, err := b.run(ctx, &res, "validate", append(args, path)...)
		if err != nil {
			return nil, err
		}
		t0 := started.UnixNano()
		v.Resources, v.Errors, v.Warnings, v.Sample = res.Resources, res.Errors, res.Warnings, res.Sample
		rate = append(rate, float64(res.Resources)/(float64(res.End-res.Loaded)/1e9))
		if res.First > 0 {
			startup = append(startup, float64(res.First-t0)/1e9)
		}
		pkgs = append(pkgs, float64(res.Loaded-t0)/1e9)
		total = append(total, float64(res.End-t0)/1e9)
		peak = append(peak, mb(res.Memory.PeakKB))
	}
	v.PerSecond, v.StartupSeconds, v.PackagesSeconds = newStat(rate), newStat(startup), newStat(pkgs)
	v.TotalSeconds, v.PeakMB = newStat(total), newStat(peak)
	return v, nil
}

func (b *bench) defaultRun(ctx context.Context) (*DefaultRun, error) {
	d := &DefaultRun{}
	var secs, proc, peak []float64
	for r := range b.o.Runs {
		b.progress("full default run against the reference server, run %d of %d", r+1, b.o.Runs)
		var res harnessed
		started, err := b.run(ctx, &res, "harness", b.packageArgs()...)
		if err != nil {
			return nil, err
		}
		proc = append(proc, time.Since(started).Seconds())
		secs = append(secs, res.Seconds)
		peak = append(peak, mb(res.Memory.PeakKB))
		d.Specs, d.Passed, d.Failed = res.Specs, res.Passed, res.Failed
	}
	d.Seconds, d.ProcessSeconds, d.PeakMB = newStat(secs), newStat(proc), newStat(peak)
	return d, nil
}

func mb(kb int64) float64 { return math.Round(float64(kb)/1024*10) / 10 }

// loadAverage reads the 1-minute load average (Linux); 0 when unknown.
func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// run runs one measurement in a child process and decodes its result into
// v; it returns when the child was started.
func (b *bench) run(ctx context.Context, v any, kind string, args ...string) (time.Time, error) {
	c, err := b.start(ctx, kind, args...)
	if err != nil {
		return time.Time{}, err
	}
	if err := c.next(v); err != nil {
		c.stop()
		return c.started, err
	}
	return c.started, c.stop()
}

// child is a running measurement process.
type child struct {
	kind    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	log     io.Writer
	stderr  *tail
	started time.Time
	once    sync.Once
	err     error
}

func (b *bench) start(ctx context.Context, kind string, args ...string) (*child, error) {
	b.load = append(b.load, loadAverage())
	argv := append(append(slices.Clone(b.o.Self[1:]), ChildCommand, kind), args...)
	cmd := exec.CommandContext(ctx, b.o.Self[0], argv...)
	c := &child{kind: kind, cmd: cmd, log: b.o.Log, stderr: &tail{max: 4 << 10}}
	if c.log == nil {
		c.log = io.Discard
	}
	cmd.Stderr = io.MultiWriter(c.stderr, c.log)
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReaderSize(stdout, 64<<10)
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s measurement: %w", kind, err)
	}
	return c, nil
}

// next reads the child's next result line into v.
func (c *child) next(v any) error {
	for {
		line, err := c.out.ReadString('\n')
		// Output without a final newline (Ginkgo's) may precede the mark.
		if i := strings.Index(line, resultPrefix); i >= 0 {
			io.WriteString(c.log, line[:i])
			rest := line[i+len(resultPrefix):]
			if jerr := json.Unmarshal([]byte(rest), v); jerr != nil {
				return fmt.Errorf("%s measurement: bad result %q: %w", c.kind, rest, jerr)
			}
			return nil
		}
		io.WriteString(c.log, line)
		if err != nil {
			werr := c.stop()
			if werr == nil {
				werr = err
			}
			return fmt.Errorf("%s measurement ended without a result: %w", c.kind, werr)
		}
	}
}

// ask sends a command line to the child and reads its answer.
func (c *child) ask(cmd string, v any) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return err
	}
	return c.next(v)
}

// stop closes the child's input and waits for it to end.
func (c *child) stop() error {
	c.once.Do(func() {
		c.stdin.Close()
		io.Copy(c.log, c.out)
		if err := c.cmd.Wait(); err != nil {
			c.err = fmt.Errorf("%s measurement: %w: %s", c.kind, err, strings.TrimSpace(c.stderr.String()))
		}
	})
	return c.err
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
