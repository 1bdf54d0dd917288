package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestMain lets the test binary stand in for pdex-conform: Run re-executes
// it with ChildCommand for each measurement.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		if err := Child(context.Background(), os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs every measurement once on a tiny data set: the numbers
// are not checked (speed targets live in benchmarks), what they measured
// is.
func TestRunSmall(t *testing.T) {
	pkgs := packagestest.Dir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	profiles := t.TempDir()
	rep, err := Run(context.Background(), Options{
		Members: []int{8}, Runs: 1, Dir: t.TempDir(), Packages: []string{pkgs},
		Suite: true, Validation: true, ProfileDir: profiles, Self: []string{exe}, Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(rep.Sizes) != 1 {
		t.Fatalf("%d sizes measured, want 1", len(rep.Sizes))
	}
	s := rep.Sizes[0]
	if s.Resources == 0 || s.Export == nil || s.Export.Resources == 0 || s.Export.Resources >= s.Resources {
		t.Fatalf("export of one Group of %d resources: %+v", s.Resources, s.Export)
	}
	if s.Validation.Resources != s.Export.Resources || s.Validation.Errors != 0 {
		t.Errorf("validated %d of %d exported resources, %d errors: %v", s.Validation.Resources, s.Export.Resources, s.Validation.Errors, s.Validation.Sample)
	}
	if s.Claims.Resources == 0 || s.Claims.Resources >= s.Validation.Resources || s.Claims.Errors != 0 {
		t.Errorf("claims: %d resources, %d errors", s.Claims.Resources, s.Claims.Errors)
	}
	for _, v := range []*Validation{s.Validation, s.Claims} {
		if v.PeakMB.Median <= 0 || v.StartupSeconds.Median <= 0 || v.StartupSeconds.Median > v.TotalSeconds.Median || v.WithStartup.Median > v.PerSecond.Median {
			t.Errorf("%s: peak %v MB, start-up %v s, total %v s, %v/s with start-up, %v/s without", v.Input, v.PeakMB.Median,
				v.StartupSeconds.Median, v.TotalSeconds.Median, v.WithStartup.Median, v.PerSecond.Median)
		}
	}
	if f := s.Floor; f == nil || f.Lines != s.Export.Resources || f.DecodePerSecond.Median <= 0 || f.R4PerSecond.Median <= 0 || f.CheckPerSecond.Median <= 0 ||
		f.DecodeCPUMicros.Median <= 0 || f.R4CPUMicros.Median <= 0 || f.CheckCPUMicros.Median <= 0 {
		t.Errorf("parse floor: %+v, want the %d exported lines decoded, parsed and validated", f, s.Export.Resources)
	}
	if s.Export.ServerPeakMB.Median <= 0 || s.Export.ClientPeakMB.Median <= 0 {
		t.Errorf("export memory: server %v MB, client %v MB", s.Export.ServerPeakMB.Median, s.Export.ClientPeakMB.Median)
	}

	u := s.Suite
	if u == nil || u.Specs < 50 || u.Passed == 0 || u.Failed != 0 || u.Passed+u.Failed+u.Skipped != u.Specs {
		t.Fatalf("suite: %+v\n%s", u, log.String())
	}
	if u.Exported != s.Export.Resources {
		t.Errorf("the suite's full export has %d resources, the export measurement %d", u.Exported, s.Export.Resources)
	}
	if u.PeakMB.Median <= 0 || u.CPUSeconds.Median <= 0 || u.ServerPeakMB.Median <= 0 {
		t.Errorf("suite memory %v MB, CPU %v s, server %v MB", u.PeakMB.Median, u.CPUSeconds.Median, u.ServerPeakMB.Median)
	}
	// Every export's files were counted, and released but the full
	// export's.
	if u.DownloadedMB.Median <= 0 || u.DiskPeakMB.Median <= 0 || u.DiskLeftMB.Median <= 0 || u.DiskLeftMB.Median > u.DiskPeakMB.Median || u.DiskPeakMB.Median > u.DownloadedMB.Median {
		t.Errorf("downloads: %v MB in all, %v MB at most, %v MB left", u.DownloadedMB.Median, u.DiskPeakMB.Median, u.DiskLeftMB.Median)
	}
	specs, sum := 0, 0.0
	names := map[string]bool{}
	for _, a := range u.Areas {
		specs += a.Specs
		sum += a.Seconds.Median
		names[a.Name] = true
	}
	if specs != u.Specs || !names[FullExportArea] || !names["Since and until"] || sum > u.Seconds.Median*1.01 {
		t.Errorf("areas %+v: %d specs (want %d), %.2f s (run %.2f s)", u.Areas, specs, u.Specs, sum, u.Seconds.Median)
	}
	if len(u.Profiles) != 1 {
		t.Errorf("profiles %v", u.Profiles)
	} else if st, err := os.Stat(u.Profiles[0]); err != nil || st.Size() == 0 {
		t.Errorf("no CPU profile: %v", err)
	}

	var table bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Whole suite", FullExportArea, "Since and until", "whole run", "Targets", "peak memory of the run",
		"bare decode/s", "google/fhir/go parse/s", "validation ÷ decode (CPU)", "pdex-conform validate", "mixed export", "claim EOBs", "Reference export"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

// TestGrowth: the exponent of each area and of the whole run, from one
// size to the next, against the growth of the data exported.
func TestGrowth(t *testing.T) {
	suite := func(exported int, whole float64, areas map[string]float64) *Suite {
		s := &Suite{Exported: exported, Seconds: newStat([]float64{whole})}
		for _, name := range []string{"linear", "quadratic", "tiny"} {
			s.Areas = append(s.Areas, Area{Name: name, Seconds: newStat([]float64{areas[name]})})
		}
		return s
	}
	sizes := []*Size{
		{Members: 300, Suite: suite(5000, 10, map[string]float64{"linear": 2, "quadratic": 1, "tiny": 0.001})},
		{Members: 3000, Suite: suite(50000, 100, map[string]float64{"linear": 20, "quadratic": 100, "tiny": 0.002})},
		{Members: 10000},
	}
	g := growthOf(sizes)
	if len(g) != 1 {
		t.Fatalf("%d growths, want 1 (the last size has no suite)", len(g))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(g[0].Data, 10) || !near(g[0].Time, 10) || !near(g[0].Exponent, 1) {
		t.Errorf("growth %+v", g[0])
	}
	if !near(g[0].Areas["linear"], 1) || !near(g[0].Areas["quadratic"], 2) {
		t.Errorf("area exponents %v", g[0].Areas)
	}
	if _, ok := g[0].Areas["tiny"]; ok {
		t.Errorf("an area under 10 ms got an exponent: %v", g[0].Areas)
	}
	var table bytes.Buffer
	if err := WriteTable(&table, &Report{Sizes: sizes[:2], Growth: g}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"exp 300→3,000", "2.00", "1.00 (10.0× time for 10.0× data)", "growth 300→3,000 members (10.0× data)", "10.0× time"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestOverlap: a spec's time spent in the shared full export is taken out
// of its area.
func TestOverlap(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	tests := []struct {
		a1, a2, b1, b2 int
		want           time.Duration
	}{
		{0, 10, 2, 5, 3 * time.Second},
		{0, 10, 8, 20, 2 * time.Second},
		{5, 10, 0, 3, 0},
		{0, 10, 0, 10, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := overlap(at(tt.a1), at(tt.a2), at(tt.b1), at(tt.b2)); got != tt.want {
			t.Errorf("overlap([%d,%d], [%d,%d]) = %s, want %s", tt.a1, tt.a2, tt.b1, tt.b2, got, tt.want)
		}
	}
}

func TestStat(t *testing.T) {
	tests := []struct {
		in            []float64
		med, min, max float64
	}{
		{nil, 0, 0, 0},
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 2, 10}, 3, 1, 10},
	}
	for _, tt := range tests {
		s := newStat(tt.in)
		if s.Median != tt.med || s.Min != tt.min || s.Max != tt.max {
			t.Errorf("newStat(%v) = %+v", tt.in, s)
		}
	}
	if got := spread(Stat{Median: 1234.4, Min: 1000, Max: 1500, Samples: []float64{1000, 1234.4, 1500}}, 0); got != "1,234 (1,000-1,500)" {
		t.Errorf("spread = %q", got)
	}
}
