package runner

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// The fault and variant tables are generated from the reference server's own
// declarations (reference.Faults, reference.Variants): for every edition the
// server implements, the whole suite runs against the clean server (every
// spec passes, but for the skips listed in allowedSkip), against each fault
// (exactly the specs its Breaks names fail; every other spec ends as it did
// against the clean server, or is blocked by a failed prerequisite), and
// against each conformant variation (nothing fails). Across the faults of an
// edition every spec must fail somewhere, so that nothing stands unproven.
//
// Each run is a whole suite against a fresh reference server. Ginkgo's state
// is global, so runs cannot share a process: the test re-executes its own
// binary (TestFaultTableChild) for each run, as many at once as there are
// CPUs.

// outcome is what one run's spec ended as, as the tables compare it.
type outcome struct {
	Key   string   `json:"key"`
	IDs   []string `json:"ids"`
	State string   `json:"state"` // passed, failed (warnings too), skipped, blocked
	Why   string   `json:"why,omitempty"`
	// Raw is the spec's message as it failed; Summary what the console
	// and the reports show of it; File the spec's source file.
	Raw     string `json:"raw,omitempty"`
	Summary string `json:"summary,omitempty"`
	File    string `json:"file,omitempty"`
}

// tableRun is one run of the table: an edition, faults and variants.
type tableRun struct {
	Edition  string   `json:"edition"`
	Faults   []string `json:"faults,omitempty"`
	Variants []string `json:"variants,omitempty"`
	// Filter is the run's label filter: a fault that changes nothing of
	// the exported resources' shape runs without the validation specs,
	// half of a run's work (see validationSpecs).
	Filter string `json:"filter,omitempty"`
	// Served, when set, is the edition the reference server serves, for a
	// suite of another edition (TestEditionMismatch).
	Served string `json:"served,omitempty"`
	// Bare runs without any FHIR package, as on a machine that has none:
	// the profile and compartment specs skip, saying why, and nothing
	// fails.
	Bare bool   `json:"bare,omitempty"`
	Out  string `json:"out"`
	// Template is the prepared reference database the run's server starts
	// from (prepareTemplates).
	Template string `json:"template"`
}

func (r tableRun) name() string {
	parts := append(slices.Clone(r.Faults), r.Variants...)
	if r.Served != "" {
		parts = append(parts, "served-"+r.Served)
	}
	if r.Bare {
		parts = append(parts, "without-packages")
	}
	if len(parts) == 0 {
		return r.Edition + "/clean"
	}
	return r.Edition + "/" + strings.Join(parts, "+")
}

const childEnv = "PDEX_CONFORM_TABLE_CHILD"

// TestFaultTableChild serves TestFaultTable when it re-executes the test
// binary as a worker; otherwise it does nothing. A worker reads runs, one
// JSON object a line, from stdin, runs each in turn (sharing the loaded FHIR
// packages, which is most of a process's start-up) and acknowledges each on
// file descriptor 3 once its results are written: Ginkgo owns stdout.
func TestFaultTableChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as a worker of TestFaultTable")
	}
	// A worker's runs are short and many: collect less often (memory is
	// plentiful next to the CPU time the collector takes).
	debug.SetGCPercent(400)
	strangers := &keys.Strangers{}
	ack := os.NewFile(3, "ack")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var r tableRun
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if err := runOne(t, r, strangers); err != nil {
			fmt.Fprintf(ack, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintln(ack, "done")
	}
}

// prepareTemplates makes the reference databases the runs start from, one
// per edition served and set of variants (the variants shape the stored
// data), each once for the whole table: generating and loading the data
// set and making the test clients' keys is a fifth of a run's work. The
// servers of the runs copy them.
func prepareTemplates(t *testing.T, runs []tableRun) {
	t.Helper()
	dir := t.TempDir()
	type want struct {
		edition  string
		variants []string
		runs     []int
	}
	var wants []*want
	byKey := map[string]*want{}
	for i, r := range runs {
		ed := r.Edition
		if r.Served != "" {
			ed = r.Served
		}
		vs := slices.Clone(r.Variants)
		slices.Sort(vs)
		key := ed + "+" + strings.Join(vs, ",")
		w, ok := byKey[key]
		if !ok {
			w = &want{edition: ed, variants: vs}
			byKey[key] = w
			wants = append(wants, w)
		}
		w.runs = append(w.runs, i)
	}
	queue := make(chan int, len(wants))
	for i := range wants {
		queue <- i
	}
	close(queue)
	var wg sync.WaitGroup
	errs := make([]error, len(wants))
	for range min(runtime.NumCPU(), len(wants)) {
		wg.Go(func() {
			for i := range queue {
				w := wants[i]
				p := filepath.Join(dir, fmt.Sprintf("template-%d.db", i))
				if err := reference.Prepare(context.Background(), p, reference.Options{Edition: w.edition, Variants: w.variants}); err != nil {
					errs[i] = fmt.Errorf("preparing a reference database for edition %s, variants %v: %w", w.edition, w.variants, err)
					continue
				}
				for _, r := range w.runs {
					runs[r].Template = p
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reference databases prepared for %d runs", len(wants), len(runs))
}

func runOne(t *testing.T, r tableRun, strangers *keys.Strangers) error {
	cfg := &config.Config{Target: "reference", Edition: r.Edition, Faults: r.Faults, Variants: r.Variants, LabelFilter: r.Filter}
	reg := SharedRegistry(t)
	if r.Bare {
		// Nowhere to find packages: neither FHIR_PACKAGES nor a home with
		// ~/.fhir/packages. A worker runs one run at a time, so the
		// process's environment is this run's.
		reg = nil
		for k, v := range map[string]string{"FHIR_PACKAGES": "", "HOME": t.TempDir()} {
			old, had := os.LookupEnv(k)
			os.Setenv(k, v)
			if had {
				defer os.Setenv(k, old)
			} else {
				defer os.Unsetenv(k)
			}
		}
	}
	res, err := Run(context.Background(), cfg, Options{NoColor: true, Registry: reg, ReferenceEdition: r.Served, ReferenceTemplate: r.Template, Strangers: strangers})
	if err != nil {
		return err
	}
	if r.Bare && len(res.Packages) > 0 {
		return fmt.Errorf("%s: the run found FHIR packages: %v", r.name(), res.Packages)
	}
	// The verdict's reasons, for the tests that read what the run said
	// beside its specs.
	if err := os.WriteFile(r.Out+".reasons", []byte(strings.Join(res.Outcome.Reasons, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []outcome
	for _, s := range res.Outcome.Specs {
		o := outcome{Key: specKey(s), IDs: s.Requirements, State: s.State, Why: firstLine(s.Reason),
			Raw: s.Reason, Summary: reports.PlainFailure(s.Reason), File: filepath.Base(res.Report.SpecReports[s.Index].LeafNodeLocation.FileName)}
		if r.Filter != "" && o.State == verdict.Skipped && strings.HasPrefix(o.Why, "Not run: not selected by the label filter") {
			continue // left out of this run on purpose
		}
		if o.State == verdict.Warning {
			o.State = verdict.Failed
		}
		outs = append(outs, o)
	}
	b, err := json.Marshal(outs)
	if err != nil {
		return err
	}
	return os.WriteFile(r.Out, b, 0o600)
}

func specKey(s verdict.Spec) string {
	return strings.Join(s.Requirements, ",") + ": " + s.Area + " / " + s.Name
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// runAll executes the runs in worker processes, three per CPU (a run spends
// most of its time waiting on the reference server's status holds and
// polls, not computing), each taking the next run from a shared queue.
func runAll(t *testing.T, runs []tableRun) map[string][]outcome {
	t.Helper()
	prepareTemplates(t, runs)
	dir := t.TempDir()
	for i := range runs {
		runs[i].Out = filepath.Join(dir, fmt.Sprintf("run-%d.json", i))
	}
	// Runs with slow jobs take half a minute or more, mostly waiting:
	// queued first, they wait beside the others instead of after them.
	order := slices.Clone(runs)
	slices.SortStableFunc(order, func(a, b tableRun) int {
		slow := func(r tableRun) int {
			if slices.Contains(r.Variants, reference.VariantSlowJobs) {
				return 0
			}
			return 1
		}
		return cmp.Compare(slow(a), slow(b))
	})
	queue := make(chan tableRun, len(order))
	for _, r := range order {
		queue <- r
	}
	close(queue)
	results := make(map[string][]outcome, len(runs))
	took := map[string]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, min(3*runtime.NumCPU(), len(runs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker(queue, func(r tableRun, outs []outcome, d time.Duration) {
				mu.Lock()
				results[r.name()], took[r.name()] = outs, d
				mu.Unlock()
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// The slowest runs, for whoever works on the table's time.
	names := slices.Collect(maps.Keys(took))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(took[b], took[a]) })
	for _, n := range names[:min(5, len(names))] {
		t.Logf("slow run: %s took %s", n, took[n].Round(time.Millisecond))
	}
	return results
}

// worker runs queued runs in one child process until the queue is empty.
func worker(queue <-chan tableRun, done func(tableRun, []outcome, time.Duration)) error {
	ackR, ackW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer ackR.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultTableChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.ExtraFiles = []*os.File{ackW}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ackW.Close()
	acks := bufio.NewScanner(ackR)
	var failed error
	for r := range queue {
		line, err := json.Marshal(r)
		if err != nil {
			failed = err
			break
		}
		began := time.Now()
		if _, err := in.Write(append(line, '\n')); err != nil {
			failed = fmt.Errorf("%s: the worker is gone: %v", r.name(), err)
			break
		}
		if !acks.Scan() {
			failed = fmt.Errorf("%s: the worker ended:\n%s", r.name(), tail(log.String(), 4000))
			break
		}
		if a := acks.Text(); a != "done" {
			failed = fmt.Errorf("%s: the run failed: %s", r.name(), a)
			continue
		}
		b, err := os.ReadFile(r.Out)
		if err != nil {
			failed = fmt.Errorf("%s: %v", r.name(), err)
			continue
		}
		var outs []outcome
		if err := json.Unmarshal(b, &outs); err != nil {
			failed = fmt.Errorf("%s: %v", r.name(), err)
			continue
		}
		done(r, outs, time.Since(began))
	}
	in.Close()
	if err := cmd.Wait(); err != nil && failed == nil {
		failed = fmt.Errorf("the worker failed: %v\n%s", err, tail(log.String(), 4000))
	}
	return failed
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// allowedSkip says which specs may skip against the clean reference server:
// PA-BULK-05 needs an export still running when polled (the slow-jobs
// variant gives it one); PA-PROF-01 and every spec that judges whose data a
// resource is need the FHIR packages (profiles, the Patient compartment).
func allowedSkip(o outcome, profiles bool) bool {
	return slices.Contains(o.IDs, "PA-BULK-05") || !profiles && (slices.Contains(o.IDs, "PA-PROF-01") || noCompartment(o))
}

// noCompartment reports a spec skipped for want of the Patient compartment
// definition (no FHIR packages).
func noCompartment(o outcome) bool {
	return o.State == verdict.Skipped && strings.HasPrefix(o.Why, framework.NoCompartment)
}

// maySkip reports whether a variant of the run lets the spec skip.
func maySkip(r tableRun, o outcome) bool {
	for _, name := range r.Variants {
		v, _ := variantNamed(name)
		for _, entry := range v.MaySkip {
			if matches(entry, o) {
				return true
			}
		}
	}
	return false
}

func variantNamed(name string) (reference.Variant, bool) {
	for _, v := range reference.Variants() {
		if v.Name == name {
			return v, true
		}
	}
	return reference.Variant{}, false
}

// matches reports whether a Breaks entry names a spec: a requirement ID
// names all its specs, "ID: text" those whose name ends with text.
func matches(entry string, o outcome) bool {
	id, text, qualified := strings.Cut(entry, ": ")
	return slices.Contains(o.IDs, id) && (!qualified || strings.HasSuffix(o.Key, text))
}

// validationSpecs validate every exported resource: the clean run, the
// variants and the faults that break them run them; the other faults,
// which leave the resources' shape alone, leave them out.
var validationSpecs = []string{"PA-EXP-05", "PA-PROF-01"}

// tableEditionsEnv, when set, restricts the table to the editions it lists
// (comma-separated), e.g. to try one edition's faults while working on it.
const tableEditionsEnv = "PDEX_CONFORM_TABLE_EDITIONS"

func tableEditions() []string {
	eds := reference.Editions()
	if v := os.Getenv(tableEditionsEnv); v != "" {
		eds = slices.DeleteFunc(eds, func(e string) bool { return !slices.Contains(strings.Split(v, ","), e) })
	}
	return eds
}

// tableFullEnv, when set to 1, runs every fault and every variant in every
// edition it exists in, instead of the plan of faultEditions.
const tableFullEnv = "PDEX_CONFORM_TABLE_FULL"

// faultEditions plans the editions a fault (or variant) runs in. Most
// faults break code that every edition shares, the same specs in each:
// running each in every edition would prove the same spec code three times
// over. So a fault runs in the editions its proofs need and no more: each
// edition whose BreaksIn names specs of its own, then, for every Breaks
// entry not yet covered, the edition (taken in turn from the i-th, so that
// each edition's server and suite meet a share of the faults) that covers
// the most of them. A fault whose entries apply in every edition runs in
// one. PDEX_CONFORM_TABLE_FULL=1 runs the whole cross product, which is how
// a fault that breaks something more in one edition is found (then named
// in its BreaksIn).
func faultEditions(i int, f reference.Fault, eds []string) []string {
	var in []string
	for _, ed := range eds {
		if len(f.Editions) == 0 || slices.Contains(f.Editions, ed) {
			in = append(in, ed)
		}
	}
	if len(in) < 2 || os.Getenv(tableFullEnv) == "1" {
		return in
	}
	chosen := map[string]bool{}
	for _, ed := range in {
		if len(f.BreaksIn[ed]) > 0 {
			chosen[ed] = true
		}
	}
	covered := func(b string) bool {
		for ed := range chosen {
			if slices.Contains(breaksIn(f, ed), b) {
				return true
			}
		}
		return false
	}
	for {
		best, most := "", 0
		for k := range in {
			ed := in[(i+k)%len(in)]
			n := 0
			for _, b := range breaksIn(f, ed) {
				if slices.Contains(f.Breaks, b) && !covered(b) {
					n++
				}
			}
			if n > most {
				best, most = ed, n
			}
		}
		if best == "" {
			break
		}
		chosen[best] = true
	}
	if len(chosen) == 0 {
		chosen[in[i%len(in)]] = true
	}
	return slices.DeleteFunc(in, func(ed string) bool { return !chosen[ed] })
}

// variantEditions is faultEditions for a variant: one of its editions,
// taken in turn, unless it names specs it lets skip (their skips are
// edition data too) or the full table is asked for.
func variantEditions(i int, v reference.Variant, eds []string) []string {
	var in []string
	for _, ed := range eds {
		if len(v.Editions) == 0 || slices.Contains(v.Editions, ed) {
			in = append(in, ed)
		}
	}
	if len(in) < 2 || os.Getenv(tableFullEnv) == "1" || len(v.MaySkip) > 0 {
		return in
	}
	return []string{in[i%len(in)]}
}

func TestFaultTable(t *testing.T) {
	// In parallel with the other long tests that mostly wait (its runs are
	// child processes; TestHostileTargets is the one parallel test that
	// runs the suites in this process, which Ginkgo allows once at a time).
	t.Parallel()
	profiles := SharedRegistry(t) != nil
	eds := tableEditions()
	var runs []tableRun
	for _, ed := range eds {
		runs = append(runs, tableRun{Edition: ed}, tableRun{Edition: ed, Bare: true})
	}
	for i, f := range reference.Faults() {
		for _, ed := range faultEditions(i, f, eds) {
			r := tableRun{Edition: ed, Faults: []string{f.Name}, Variants: f.Variants}
			if !slices.ContainsFunc(breaksIn(f, ed), func(b string) bool {
				id, _, _ := strings.Cut(b, ": ")
				return slices.Contains(validationSpecs, id)
			}) {
				r.Filter = "!" + strings.Join(validationSpecs, " && !")
			}
			runs = append(runs, r)
		}
	}
	for i, v := range reference.Variants() {
		for _, ed := range variantEditions(i, v, eds) {
			runs = append(runs, tableRun{Edition: ed, Variants: []string{v.Name}})
		}
	}
	if testing.Short() {
		// Each edition's clean server, with and without packages.
		runs = runs[:2*len(eds)]
	}
	t.Logf("%d runs over editions %s (%s=1 for every fault in every edition)", len(runs), strings.Join(eds, ", "), tableFullEnv)
	results := runAll(t, runs)
	if t.Failed() {
		t.FailNow()
	}
	// A spec proven able to fail in one edition is proven in the others
	// that share it (the same spec code; what differs by edition has
	// faults of its own, run in each).
	failedSomewhere := map[string]bool{}
	for _, r := range runs {
		if len(r.Faults) == 0 {
			continue
		}
		for _, o := range results[r.name()] {
			if o.State == verdict.Failed {
				failedSomewhere[o.Key] = true
			}
		}
	}
	for _, ed := range eds {
		t.Run(ed, func(t *testing.T) { checkEdition(t, ed, runs, results, profiles, failedSomewhere) })
	}
	t.Run("messages", func(t *testing.T) { checkMessages(t, runs, results) })
}

func checkEdition(t *testing.T, ed string, runs []tableRun, results map[string][]outcome, profiles bool, failedSomewhere map[string]bool) {
	clean, ok := results[tableRun{Edition: ed}.name()]
	if !ok {
		t.Fatal("no clean run")
	}
	cleanState := map[string]string{}
	for _, o := range clean {
		cleanState[o.Key] = o.State
		if o.State != verdict.Passed && !(o.State == verdict.Skipped && allowedSkip(o, profiles)) {
			t.Errorf("clean reference server: %s %s: %s", o.Key, o.State, o.Why)
		}
	}
	if bare, ok := results[tableRun{Edition: ed, Bare: true}.name()]; ok {
		t.Run("without-packages", func(t *testing.T) {
			for _, o := range bare {
				if o.State != verdict.Passed && !(o.State == verdict.Skipped && allowedSkip(o, false)) {
					t.Errorf("clean reference server, no FHIR packages: %s %s: %s", o.Key, o.State, o.Why)
				}
			}
		})
	}
	all := 0
	for _, r := range runs {
		if r.Edition != ed || len(r.Faults)+len(r.Variants) == 0 {
			continue
		}
		outs, ok := results[r.name()]
		if !ok {
			continue // -short
		}
		all++
		t.Run(strings.TrimPrefix(r.name(), ed+"/"), func(t *testing.T) {
			var breaks []string
			if len(r.Faults) > 0 {
				f, _ := faultNamed(r.Faults[0])
				breaks = breaksIn(f, ed)
				if len(breaks) == 0 {
					t.Fatalf("fault %s breaks nothing in edition %s: every fault must name the specs that prove it", f.Name, ed)
				}
			}
			matched := map[string]bool{}
			for _, o := range outs {
				want := false
				for _, b := range breaks {
					if matches(b, o) {
						want, matched[b] = true, true
					}
				}
				switch {
				case want && o.State == verdict.Failed:
				case want && o.State == verdict.Skipped && !profiles && (slices.Contains(o.IDs, "PA-PROF-01") || noCompartment(o)):
					// Without packages the profile and compartment specs
					// skip; the fault's other proofs still stand.
				case want:
					t.Errorf("%s %s, want it failed: %s", o.Key, o.State, o.Why)
				case o.State == verdict.Failed:
					t.Errorf("%s failed, but the fault should not affect it: %s", o.Key, o.Why)
				case o.State == verdict.Blocked && len(breaks) > 0:
					// Blocked by a prerequisite the fault broke.
				case allowedSkip(o, profiles) && (o.State == verdict.Passed || o.State == verdict.Skipped):
					// Whether PA-BULK-05 finds an export still running
					// depends on the machine's load, in the clean run too.
				case o.State == verdict.Skipped && maySkip(r, o):
					// The variant takes away what the spec judges by.
				case o.State != cleanState[o.Key] && !(o.State == verdict.Passed && cleanState[o.Key] == verdict.Skipped):
					t.Errorf("%s %s, but %s against the clean server: %s", o.Key, o.State, cleanState[o.Key], o.Why)
				}
			}
			for _, b := range breaks {
				id, _, _ := strings.Cut(b, ": ")
				if _, ok := catalog.Lookup(id); !ok {
					t.Errorf("Breaks names unknown requirement %s", id)
				} else if !matched[b] && !(id == "PA-PROF-01" && !profiles) {
					t.Errorf("Breaks entry %q matches no spec", b)
				}
			}
		})
	}
	if testing.Short() || all == 0 {
		return
	}
	var unproven []string
	for _, o := range clean {
		if !failedSomewhere[o.Key] && !(!profiles && (slices.Contains(o.IDs, "PA-PROF-01") || noCompartment(o))) {
			unproven = append(unproven, o.Key)
		}
	}
	sort.Strings(unproven)
	for _, k := range unproven {
		t.Errorf("no fault makes this spec fail, so nothing proves it able to fail: %s", k)
	}
}

// breaksIn is what a fault breaks in an edition: the entries of its Breaks
// whose requirement the edition has (a fault of several editions names what
// it breaks in each).
func breaksIn(f reference.Fault, ed string) []string {
	out := slices.Clone(f.BreaksIn[ed])
	for _, b := range f.Breaks {
		id, _, _ := strings.Cut(b, ": ")
		if r, ok := catalog.Lookup(id); !ok || r.AppliesTo(ed) {
			out = append(out, b) // an unknown ID is reported by the caller
		}
	}
	return out
}

func faultNamed(name string) (reference.Fault, bool) {
	for _, f := range reference.Faults() {
		if f.Name == name {
			return f, true
		}
	}
	return reference.Fault{}, false
}

// TestFaultBreaksApply shows every Breaks entry names a requirement of one
// of the fault's editions: an entry no edition has would never be checked.
func TestFaultBreaksApply(t *testing.T) {
	for _, f := range reference.Faults() {
		eds := f.Editions
		if len(eds) == 0 {
			eds = reference.Editions()
		}
		for _, b := range f.Breaks {
			id, _, _ := strings.Cut(b, ": ")
			r, ok := catalog.Lookup(id)
			if !ok {
				t.Errorf("fault %s: Breaks names unknown requirement %s", f.Name, id)
				continue
			}
			if !slices.ContainsFunc(eds, r.AppliesTo) {
				t.Errorf("fault %s: Breaks entry %q names a requirement none of its editions (%v) has", f.Name, b, eds)
			}
		}
		for ed, bs := range f.BreaksIn {
			if !slices.Contains(eds, ed) {
				t.Errorf("fault %s: BreaksIn names edition %s, which the fault does not exist in", f.Name, ed)
			}
			for _, b := range bs {
				id, _, _ := strings.Cut(b, ": ")
				if r, ok := catalog.Lookup(id); !ok || !r.AppliesTo(ed) {
					t.Errorf("fault %s: BreaksIn[%s] names %s, which that edition does not have", f.Name, ed, id)
				}
			}
		}
		for _, ed := range eds {
			if len(breaksIn(f, ed)) == 0 {
				t.Errorf("fault %s breaks nothing in edition %s", f.Name, ed)
			}
		}
	}
}
