// Package bench measures pdex-conform's performance reproducibly, at several
// data set sizes (a provider's panel of hundreds to tens of thousands of
// members): the whole suite run as a payer would run it (`serve` of the
// generated data set, then `run --config`), per scenario area, with the
// growth of each area's time from one size to the next; the reference
// server's export of one Group end to end; and validation of the exported
// NDJSON beside the parse floor (a bare JSON decode and google/fhir/go's R4
// parse of the same lines). Every measurement runs in a fresh child process
// that re-executes this binary, so that the peak memory it reports (the
// kernel's VmHWM) and its CPU time belong to that measurement alone.
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

// DefaultMembers are the sizes measured by default: a small panel, a
// large one and a very large one (about 5,000, 50,000 and 170,000 resources
// in the full Group export).
var DefaultMembers = []int{300, 3000, 10000}

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
	// Suite measures the whole suite at every size.
	Suite bool
	// Labels, when set, runs only the specs of this Ginkgo label filter in
	// the suite measurement.
	Labels string
	// Validation measures validation of the exported NDJSON, and the parse
	// floor beside it, at every size.
	Validation bool
	// Lines, when positive, also validates the largest export repeated
	// until about this many lines, to show memory does not grow with input.
	Lines int
	// ProfileDir, when set, receives a CPU profile of each suite run
	// (suite-<members>-<run>.pprof), for `go tool pprof`.
	ProfileDir string
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
	// Load is the 1-minute load average, read before and after each
	// measurement: the machine may be shared.
	Load  Stat    `json:"load"`
	Sizes []*Size `json:"sizes"`
	// Growth compares each size's suite with the next one's.
	Growth []*Growth `json:"growth,omitempty"`
}

// Size holds the measurements at one data set size.
type Size struct {
	Members int `json:"members"`
	// Resources is the whole data set (every Group, non-members too).
	Resources int `json:"resources"`
	// PrepareSeconds generated and loaded it (not a target; for reference).
	PrepareSeconds float64     `json:"prepareSeconds"`
	Export         *Export     `json:"export,omitempty"`
	Suite          *Suite      `json:"suite,omitempty"`
	Floor          *Floor      `json:"floor,omitempty"`
	Validation     *Validation `json:"validation,omitempty"`
	Claims         *Validation `json:"claims,omitempty"`
	Repeated       *Validation `json:"repeated,omitempty"`
}

// Export is the reference server's export of one Group, kick-off to the
// last file downloaded.
type Export struct {
	Resources int   `json:"resources"`
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	Seconds   Stat  `json:"seconds"`
	PerSecond Stat  `json:"perSecond"`
	// ServerPeakMB is the server process's peak after the exports.
	ServerPeakMB Stat `json:"serverPeakMB"`
	ClientPeakMB Stat `json:"clientPeakMB"`
}

// Suite is the whole suite (`run --config` against `serve`), every spec.
type Suite struct {
	// Exported is the number of resources in the full Group export.
	Exported int `json:"exported"`
	// Seconds is runner.Run's time; CPUSeconds the child process's CPU
	// time (user and system), which a busy machine inflates less.
	Seconds    Stat `json:"seconds"`
	CPUSeconds Stat `json:"cpuSeconds"`
	// Load is the 1-minute load average around the runs.
	Load Stat `json:"load"`
	// PeakMB is the run's peak memory; ServerPeakMB the server's.
	PeakMB       Stat `json:"peakMB"`
	ServerPeakMB Stat `json:"serverPeakMB"`
	// DiskPeakMB is the most the downloaded files held on disk at once;
	// DownloadedMB all that was downloaded.
	DiskPeakMB   Stat `json:"diskPeakMB"`
	DownloadedMB Stat `json:"downloadedMB"`
	// DiskLeftMB is what the run left on disk at its end (the full export,
	// removed with the run's work folder).
	DiskLeftMB Stat   `json:"diskLeftMB"`
	Specs      int    `json:"specs"`
	Passed     int    `json:"passed"`
	Failed     int    `json:"failed"`
	Skipped    int    `json:"skipped"`
	Areas      []Area `json:"areas"`
	// Profiles are the CPU profiles written, one per run.
	Profiles []string `json:"profiles,omitempty"`
}

// FullExportArea is the line the shared full Group export gets among the
// areas: many specs use it, and whichever asks first would otherwise pay
// for it.
const FullExportArea = "Full Group export (shared, validated)"

// Area is the time of the specs of one scenario area.
type Area struct {
	Name    string `json:"name"`
	Specs   int    `json:"specs"`
	Seconds Stat   `json:"seconds"`
}

// Growth compares the suite at two sizes.
type Growth struct {
	From int `json:"from"`
	To   int `json:"to"`
	// Data is how much more data the larger size exported (the full
	// Group export's resources).
	Data float64 `json:"data"`
	// Time is how much longer the whole run took.
	Time float64 `json:"time"`
	// Exponent is log(Time)/log(Data): 1 is linear, 2 quadratic.
	Exponent float64 `json:"exponent"`
	// Areas are the exponents of each area, by name; an area that took
	// less than 50 ms at either size has none.
	Areas map[string]float64 `json:"areas"`
}

// Floor is validation beside the parse floor of one export's lines: a bare
// JSON decode (into maps), google/fhir/go's R4 parse, and validation (every
// check), each on every core, back to back in one process. Rates are lines
// per second of wall clock; CPU figures are microseconds of CPU per line,
// which a shared machine inflates less.
type Floor struct {
	Input           string `json:"input"`
	Lines           int    `json:"lines"`
	DecodePerSecond Stat   `json:"decodePerSecond"`
	R4PerSecond     Stat   `json:"r4PerSecond"`
	CheckPerSecond  Stat   `json:"checkPerSecond"`
	DecodeCPUMicros Stat   `json:"decodeCPUMicros"`
	R4CPUMicros     Stat   `json:"r4CPUMicros"`
	CheckCPUMicros  Stat   `json:"checkCPUMicros"`
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
	// last resource validated; WithStartup over the time from the process
	// start.
	PerSecond   Stat `json:"perSecond"`
	WithStartup Stat `json:"withStartupPerSecond"`
	// StartupSeconds runs from starting the process to the first resource
	// validated (packages loaded on the way); PackagesSeconds to packages
	// loaded.
	StartupSeconds  Stat `json:"startupSeconds"`
	PackagesSeconds Stat `json:"packagesSeconds"`
	// TotalSeconds runs from starting the process to the last resource.
	TotalSeconds Stat `json:"totalSeconds"`
	PeakMB       Stat `json:"peakMB"`
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
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the profile folder: %w", err)
		}
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
	rep.Growth = growthOf(rep.Sizes)
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

// prepare generates the data set of a size and loads it into
// dir/reference.db, unless a prepared database is there.
func (b *bench) prepare(ctx context.Context, members int, dir string) (prepared, error) {
	var p prepared
	marker := filepath.Join(dir, "prepared.json")
	if raw, err := os.ReadFile(marker); err == nil && json.Unmarshal(raw, &p) == nil && p.Resources > 0 {
		b.progress("%d members: reusing the prepared database (%d resources)", members, p.Resources)
		return p, nil
	}
	b.progress("%d members: generating the data set and loading the reference database", members)
	os.Remove(filepath.Join(dir, "reference.db"))
	if _, err := b.run(ctx, &p, "prepare", "--members", strconv.Itoa(members), "--dir", dir); err != nil {
		return p, err
	}
	raw, _ := json.Marshal(p)
	return p, os.WriteFile(marker, raw, 0o644)
}

// server is a serve child on a fresh copy of the prepared database: every
// measurement starts from the same data, and none sees the jobs of
// another.
type server struct {
	*child
	config string
}

func (b *bench) serve(ctx context.Context, dir string) (*server, error) {
	db := filepath.Join(dir, "serving.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	if err := copyFile(filepath.Join(dir, "reference.db"), db); err != nil {
		return nil, fmt.Errorf("copying the prepared database: %w", err)
	}
	cfg := filepath.Join(dir, "run.yaml")
	c, err := b.start(ctx, "serve", "--db", db, "--config", cfg)
	if err != nil {
		return nil, err
	}
	var ready serving
	if err := c.next(&ready); err != nil {
		return nil, fmt.Errorf("starting the reference server: %w", err)
	}
	return &server{child: c, config: cfg}, nil
}

func (b *bench) size(ctx context.Context, members int, largest bool) (*Size, error) {
	dir := filepath.Join(b.dir, fmt.Sprintf("members-%d", members))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := b.prepare(ctx, members, dir)
	if err != nil {
		return nil, err
	}
	s := &Size{Members: members, Resources: p.Resources, PrepareSeconds: p.Seconds}
	exportDir := filepath.Join(dir, "export")
	claims := filepath.Join(dir, "claims.ndjson")
	if s.Export, err = b.export(ctx, members, dir, exportDir, claims); err != nil {
		return nil, err
	}
	if b.o.Suite {
		if s.Suite, err = b.suite(ctx, members, dir); err != nil {
			return nil, err
		}
	}
	if !b.o.Validation {
		return s, nil
	}
	if s.Floor, err = b.floor(ctx, members, exportDir); err != nil {
		return nil, err
	}
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
	return s, nil
}

// export measures the reference server's export of the Group, and keeps
// the first run's files (and its claim EOBs) for the validation
// measurements.
func (b *bench) export(ctx context.Context, members int, dir, exportDir, claims string) (*Export, error) {
	srv, err := b.serve(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	var secs, rates, client, server []float64
	x := &Export{}
	for r := range b.o.Runs {
		out := filepath.Join(dir, fmt.Sprintf("export-run-%d", r))
		os.RemoveAll(out)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		args := []string{"--config", srv.config, "--dir", out}
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
		x.Resources, x.Files, x.Bytes = e.Resources, e.Files, e.Bytes
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
	x.Seconds, x.PerSecond = newStat(secs), newStat(rates)
	x.ClientPeakMB, x.ServerPeakMB = newStat(client), newStat(server)
	return x, nil
}

// suite runs the whole suite against a fresh server per run.
func (b *bench) suite(ctx context.Context, members int, dir string) (*Suite, error) {
	s := &Suite{}
	var secs, cpu, load, peak, srvPeak, disk, down, left []float64
	areas := map[string][]float64{}
	specs := map[string]int{}
	var order []string
	for r := range b.o.Runs {
		srv, err := b.serve(ctx, dir)
		if err != nil {
			return nil, err
		}
		b.progress("%d members: whole suite, run %d of %d", members, r+1, b.o.Runs)
		args := []string{"--config", srv.config}
		if b.o.Labels != "" {
			args = append(args, "--labels", b.o.Labels)
		}
		if b.o.ProfileDir != "" {
			prof := filepath.Join(b.o.ProfileDir, fmt.Sprintf("suite-%d-%d.pprof", members, r+1))
			args = append(args, "--cpuprofile", prof)
			s.Profiles = append(s.Profiles, prof)
		}
		before := loadAverage()
		var res suited
		c, err := b.runChild(ctx, &res, "suite", append(args, b.packageArgs()...)...)
		if err != nil {
			srv.stop()
			return nil, err
		}
		load = append(load, before, loadAverage())
		var m memory
		err = srv.ask("mem", &m)
		srv.stop()
		if err != nil {
			return nil, fmt.Errorf("reading the server's memory: %w", err)
		}
		secs = append(secs, res.Seconds)
		cpu = append(cpu, c.cpu.Seconds())
		peak = append(peak, mb(res.Memory.PeakKB))
		srvPeak = append(srvPeak, mb(m.PeakKB))
		disk = append(disk, mbBytes(res.Downloads.Peak))
		down = append(down, mbBytes(res.Downloads.Total))
		left = append(left, mbBytes(res.Downloads.Now))
		s.Exported, s.Specs, s.Passed, s.Failed, s.Skipped = res.Exported, res.Specs, res.Passed, res.Failed, res.Skipped
		for _, a := range res.Areas {
			if _, seen := areas[a.Name]; !seen {
				order = append(order, a.Name)
			}
			areas[a.Name] = append(areas[a.Name], a.Seconds)
			specs[a.Name] = a.Specs
		}
	}
	s.Seconds, s.CPUSeconds, s.Load, s.PeakMB, s.ServerPeakMB = newStat(secs), newStat(cpu), newStat(load), newStat(peak), newStat(srvPeak)
	s.DiskPeakMB, s.DownloadedMB, s.DiskLeftMB = newStat(disk), newStat(down), newStat(left)
	for _, name := range order {
		s.Areas = append(s.Areas, Area{Name: name, Specs: specs[name], Seconds: newStat(areas[name])})
	}
	return s, nil
}

// growthOf compares the suite at each size with the next size's.
func growthOf(sizes []*Size) []*Growth {
	var out []*Growth
	for i := 1; i < len(sizes); i++ {
		a, b := sizes[i-1].Suite, sizes[i].Suite
		if a == nil || b == nil || a.Exported == 0 || b.Exported == 0 {
			continue
		}
		g := &Growth{From: sizes[i-1].Members, To: sizes[i].Members, Data: float64(b.Exported) / float64(a.Exported),
			Time: b.Seconds.Median / a.Seconds.Median, Areas: map[string]float64{}}
		var ok bool
		if g.Exponent, ok = exponent(a.Seconds.Median, b.Seconds.Median, g.Data); !ok {
			continue
		}
		for _, aa := range a.Areas {
			for _, ba := range b.Areas {
				if aa.Name != ba.Name {
					continue
				}
				if e, ok := exponent(aa.Seconds.Median, ba.Seconds.Median, g.Data); ok {
					g.Areas[aa.Name] = e
				}
			}
		}
		out = append(out, g)
	}
	return out
}

// exponent is the power of the data's growth that the time's growth is,
// from time t1 to t2 for dataRatio times the data. Times too short to
// measure well (under 50 ms) have none.
func exponent(t1, t2, dataRatio float64) (float64, bool) {
	if t1 < 0.05 || t2 < 0.05 || dataRatio <= 1 {
		return 0, false
	}
	return math.Log(t2/t1) / math.Log(dataRatio), true
}

func (b *bench) packageArgs() []string {
	var out []string
	for _, p := range b.o.Packages {
		out = append(out, "--packages", p)
	}
	return out
}

// floor measures validation beside the parse floor of an export's lines.
func (b *bench) floor(ctx context.Context, members int, path string) (*Floor, error) {
	f := &Floor{Input: "mixed export"}
	var dec, r4, chk, decCPU, r4CPU, chkCPU []float64
	for r := range b.o.Runs {
		b.progress("%d members: parse floor and validation of the mixed export, run %d of %d", members, r+1, b.o.Runs)
		var res floored
		if _, err := b.run(ctx, &res, "floor", append(b.packageArgs(), path)...); err != nil {
			return nil, err
		}
		n := float64(res.Lines)
		f.Lines = res.Lines
		dec, decCPU = append(dec, n/res.Decode.Seconds), append(decCPU, 1e6*res.Decode.CPUSeconds/n)
		r4, r4CPU = append(r4, n/res.R4.Seconds), append(r4CPU, 1e6*res.R4.CPUSeconds/n)
		chk, chkCPU = append(chk, n/res.Check.Seconds), append(chkCPU, 1e6*res.Check.CPUSeconds/n)
	}
	f.DecodePerSecond, f.R4PerSecond, f.CheckPerSecond = newStat(dec), newStat(r4), newStat(chk)
	f.DecodeCPUMicros, f.R4CPUMicros, f.CheckCPUMicros = newStat(decCPU), newStat(r4CPU), newStat(chkCPU)
	return f, nil
}

func (b *bench) validate(ctx context.Context, members int, input string, repeat int, path string) (*Validation, error) {
	v := &Validation{Input: input}
	var rate, withStartup, startup, pkgs, total, peak []float64
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
		withStartup = append(withStartup, float64(res.Resources)/(float64(res.End-t0)/1e9))
		if res.First > 0 {
			startup = append(startup, float64(res.First-t0)/1e9)
		}
		pkgs = append(pkgs, float64(res.Loaded-t0)/1e9)
		total = append(total, float64(res.End-t0)/1e9)
		peak = append(peak, mb(res.Memory.PeakKB))
	}
	v.PerSecond, v.WithStartup, v.StartupSeconds, v.PackagesSeconds = newStat(rate), newStat(withStartup), newStat(startup), newStat(pkgs)
	v.TotalSeconds, v.PeakMB = newStat(total), newStat(peak)
	return v, nil
}

func mb(kb int64) float64 { return math.Round(float64(kb)/1024*10) / 10 }

func mbBytes(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

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

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// run runs one measurement in a child process and decodes its result into
// v; it returns when the child was started.
func (b *bench) run(ctx context.Context, v any, kind string, args ...string) (time.Time, error) {
	c, err := b.runChild(ctx, v, kind, args...)
	if err != nil {
		return time.Time{}, err
	}
	return c.started, nil
}

// runChild is run that returns the ended child, with its CPU time.
func (b *bench) runChild(ctx context.Context, v any, kind string, args ...string) (*child, error) {
	c, err := b.start(ctx, kind, args...)
	if err != nil {
		return nil, err
	}
	if err := c.next(v); err != nil {
		c.stop()
		return nil, err
	}
	return c, c.stop()
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
	// cpu is the process's CPU time (user and system), once it ended.
	cpu time.Duration
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
		if ps := c.cmd.ProcessState; ps != nil {
			c.cpu = ps.UserTime() + ps.SystemTime()
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
