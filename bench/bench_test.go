package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

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
	rep, err := Run(context.Background(), Options{
		Members: []int{8}, Runs: 1, Dir: t.TempDir(), Packages: []string{pkgs},
		Harness: true, Self: []string{exe}, Log: &log,
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
		if v.PeakMB.Median <= 0 || v.StartupSeconds.Median <= 0 || v.StartupSeconds.Median > v.TotalSeconds.Median {
			t.Errorf("%s: peak %v MB, start-up %v s, total %v s", v.Input, v.PeakMB.Median, v.StartupSeconds.Median, v.TotalSeconds.Median)
		}
	}
	if s.Export.ServerPeakMB.Median <= 0 || s.Export.ClientPeakMB.Median <= 0 {
		t.Errorf("export memory: server %v MB, client %v MB", s.Export.ServerPeakMB.Median, s.Export.ClientPeakMB.Median)
	}
	h := s.Harness
	if h == nil || h.Specs != 8 || h.Passed != 8 {
		t.Fatalf("harness: %+v\n%s", h, log.String())
	}

	var table bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mixed export", "claim EOBs", "Reference export", "Harness"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
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
