package framework

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

// sinceCase is a full export of n resources and an export made with
// _since at the median lastUpdated, as PA-SINCE-01 compares them: the
// since export holds what changed since, plus some older resources (of
// members added to the Group later, which Bulk Data allows), and lacks a
// few that changed (so that the check has something to find).
type sinceCase struct {
	full, since *Export
	w           pdex.Window
	lacking     int
}

var caseTypes = []string{"Observation", "ExplanationOfBenefit", "Condition", "Encounter", "Procedure", "Patient"}

func newSinceCase(n int) sinceCase {
	r := rand.New(rand.NewPCG(uint64(n), 12))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	full := &Export{Resources: make(map[string]Resource, n)}
	keys := make([]string, n)
	for i := range n {
		typ := caseTypes[i%len(caseTypes)]
		id := fmt.Sprintf("%s-%07d", typ[:3], i)
		keys[i] = Key(typ, id)
		full.Resources[keys[i]] = Resource{Type: typ, ID: id, Patients: []string{fmt.Sprintf("pat-%05d", i/30)},
			LastUpdated: base.Add(time.Duration(r.IntN(1<<20)) * time.Minute)}
	}
	since := base.Add(1 << 19 * time.Minute)
	c := sinceCase{full: full, since: &Export{Resources: map[string]Resource{}}, w: pdex.Window{Since: &since}}
	// In key order, not the map's, so that the case is the same every time.
	for i, k := range keys {
		res := full.Resources[k]
		switch changed := c.w.Contains(res.LastUpdated); {
		case changed && i%997 == 0:
			c.lacking++ // a changed resource left out
		case changed || r.IntN(50) == 0:
			c.since.Resources[k] = res
		}
	}
	return c
}

// sinceCheck is PA-SINCE-01's comparison done with the framework: every
// resource of the since export checked against the window, and every
// resource of the full export that changed in the window looked up in the
// since export. It returns what it found, so that the work is not
// optimised away and can be checked.
func sinceCheck(c sinceCase) (outside int, d Difference) {
	for _, r := range c.since.Resources {
		if pdex.WindowIssue(r.Type, r.ID, r.LastUpdated, c.w) != nil {
			outside++
		}
	}
	want := c.full.Keys(func(r Resource) bool { return c.w.Contains(r.LastUpdated) })
	return outside, Missing(want, c.since.Resources)
}

func TestSinceCheckFinds(t *testing.T) {
	c := newSinceCase(5000)
	outside, d := sinceCheck(c)
	if outside == 0 || d.Missing != c.lacking || c.lacking == 0 || len(d.MissingEg) == 0 {
		t.Errorf("the check found %d outside the window and %d missing (want some, and %d missing)", outside, d.Missing, c.lacking)
	}
}

// BenchmarkSinceCheckLinear proves PA-SINCE-01's check linear in the data.
// It times the check on exports of about 17,000 and 170,000 resources (a
// Group of 1,000 and of 10,000 members) and reports the ratio of the two
// times: linear is 10, the matcher the check once used (pairing every
// element with every other) is hundreds.
//
// The yardstick, measured in the same run on the same exports, is the least
// any such check does: reading every key of both exports and finding it in
// an index, once. On a shared machine the larger exports fall out of the
// CPU caches and memory is contended, which makes even that pass cost more
// per key; the growth against the yardstick (10 × check ratio / yardstick
// ratio) takes that out, and the benchmark fails when it passes 15. As a control, the same
// measure of a check that pairs every key with every other (at 1,000 and
// 10,000 keys) must come out far above 15, or the measure proves nothing.
//
//	go test ./suites/framework -run '^$' -bench SinceCheckLinear -benchtime 10x
func BenchmarkSinceCheckLinear(b *testing.B) {
	small, large := newSinceCase(17_000), newSinceCase(170_000)
	check := func(c sinceCase) {
		if _, d := sinceCheck(c); d.Missing != c.lacking {
			b.Fatalf("the check missed: %d missing, want %d", d.Missing, c.lacking)
		}
	}
	var g growth
	for b.Loop() {
		g.sample(b, func() { check(small) }, func() { check(large) }, func() { readKeys(small) }, func() { readKeys(large) })
	}
	raw, yard, rel := g.ratios()
	b.ReportMetric(float64(median(g.small).Microseconds()), "µs/17k-keys")
	b.ReportMetric(float64(median(g.large).Microseconds()), "µs/170k-keys")
	b.ReportMetric(raw, "ratio-10x-keys")
	b.ReportMetric(yard, "yardstick-ratio")
	b.ReportMetric(rel, "growth-vs-yardstick")
	if rel > 15 {
		b.Errorf("10× the keys took %.1f× the time, %.1f× against the yardstick's %.1f×: the since check is not linear", raw, rel, yard)
	}

	// The control: a quadratic check must fail the same measure.
	qs, ql := newSinceCase(1_000), newSinceCase(10_000)
	var q growth
	for range 3 {
		q.sample(b, func() { quadraticCheck(qs) }, func() { quadraticCheck(ql) }, func() { readKeys(qs) }, func() { readKeys(ql) })
	}
	if _, _, qrel := q.ratios(); qrel <= 15 {
		b.Errorf("the control, a quadratic check, grew only %.1f× against the yardstick: the measure cannot tell", qrel)
	} else {
		b.ReportMetric(qrel, "quadratic-control")
	}
}

// growth collects CPU-time samples of a check and of the yardstick at two
// sizes, ten times apart.
type growth struct{ small, large, ysmall, ylarge []time.Duration }

// sample times each of the four once, alternating which size goes first.
func (g *growth) sample(b *testing.B, small, large, ysmall, ylarge func()) {
	if len(g.small)%2 == 0 {
		g.small = append(g.small, cpuTimed(b, small))
		g.large = append(g.large, cpuTimed(b, large))
		g.ysmall = append(g.ysmall, cpuTimed(b, ysmall))
		g.ylarge = append(g.ylarge, cpuTimed(b, ylarge))
	} else {
		g.ylarge = append(g.ylarge, cpuTimed(b, ylarge))
		g.ysmall = append(g.ysmall, cpuTimed(b, ysmall))
		g.large = append(g.large, cpuTimed(b, large))
		g.small = append(g.small, cpuTimed(b, small))
	}
}

// ratios are the check's ratio of medians, the yardstick's, and the
// check's growth against the yardstick (10 for a linear check).
func (g *growth) ratios() (raw, yard, rel float64) {
	raw = float64(median(g.large)) / float64(median(g.small))
	yard = float64(median(g.ylarge)) / float64(median(g.ysmall))
	return raw, yard, 10 * raw / yard
}

// cpuTimed is fn's CPU time, not wall time: on a shared machine the wall
// clock counts the other processes too. The collector runs first, so that
// one measurement does not pay for another's garbage.
func cpuTimed(b *testing.B, fn func()) time.Duration {
	runtime.GC()
	start := cpuTime(b)
	fn()
	return cpuTime(b) - start
}

// keySink keeps readKeys' result observable.
var keySink uint64

// readKeys is the yardstick: every key of both exports read once and
// found once in its own index, the least an indexed comparison does.
func readKeys(c sinceCase) {
	var n uint64
	for _, x := range []*Export{c.full, c.since} {
		for k := range x.Resources {
			n += uint64(x.Resources[k].Size + len(k))
		}
	}
	keySink += n
}

// quadraticCheck pairs every changed key of the full export with every key
// of the since export, as a set matcher does.
func quadraticCheck(c sinceCase) {
	got := c.since.Select(func(Resource) bool { return true })
	missing := 0
	for k, r := range c.full.Resources {
		if !c.w.Contains(r.LastUpdated) {
			continue
		}
		if !slices.Contains(got, k) {
			missing++
		}
	}
	if missing != c.lacking {
		panic(fmt.Sprintf("quadratic check: %d missing, want %d", missing, c.lacking))
	}
}

// cpuTime is the CPU time this process has used (user and system, every
// thread: the collector's work is part of the cost).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
