package check_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// exportedMix returns the member resources of the default data set in the
// form the reference server exports them (claim EOBs without financial
// detail), by type; claims holds the claim EOBs alone.
func exportedMix(b *testing.B) (byType map[string][][]byte, mix, claims [][]byte) {
	d, err := fixtures.Default()
	if err != nil {
		b.Fatal(err)
	}
	byType = map[string][][]byte{}
	for _, r := range d.Resources {
		if r.PatientID == "" && r.Type != "Organization" && r.Type != "Practitioner" {
			continue
		}
		raw, err := reference.ExportForm(r.Type, r.JSON)
		if err != nil {
			b.Fatal(err)
		}
		byType[r.Type] = append(byType[r.Type], raw)
		mix = append(mix, raw)
		if r.Type == "ExplanationOfBenefit" && !bytes.Contains(raw, []byte(`"use":"preauthorization"`)) {
			claims = append(claims, raw)
		}
	}
	return byType, mix, claims
}

func checker(b *testing.B) *check.Checker {
	c := check.New(packagestest.Registry(b), check.Options{})
	if !c.Profiles() {
		b.Fatal("profiles not loaded")
	}
	return c
}

// BenchmarkCheck validates exported resources of one type at a time on one
// goroutine: structure, profiles and PDex rules, as `validate` does.
//
//	go test ./validators/check -run '^$' -bench 'Check/' -cpuprofile cpu.out
func BenchmarkCheck(b *testing.B) {
	byType, _, _ := exportedMix(b)
	c := checker(b)
	for _, typ := range []string{"ExplanationOfBenefit", "Patient", "Coverage", "Observation", "Condition", "Encounter", "Procedure",
		"MedicationRequest", "Immunization", "AllergyIntolerance", "DiagnosticReport", "Organization", "Practitioner"} {
		rs := byType[typ]
		if len(rs) == 0 {
			b.Fatalf("no %s in the data set", typ)
		}
		for _, r := range rs { // compile the plans outside the timing
			c.Check(r)
		}
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				if i < len(rs) {
					for _, is := range c.Check(rs[i]) {
						if is.Severity == validators.Error {
							b.Fatalf("%s: %v", typ, is)
						}
					}
				} else {
					c.Check(rs[i%len(rs)])
				}
				i++
			}
			reportRates(b, i, cpuTime()-cpu)
		})
	}
}

// BenchmarkCheckParallel validates the exported mix, and the claim EOBs
// alone, on every core (GOMAXPROCS goroutines).
func BenchmarkCheckParallel(b *testing.B) {
	_, mix, claims := exportedMix(b)
	c := checker(b)
	for _, r := range mix {
		c.Check(r)
	}
	for _, in := range []struct {
		name string
		rs   [][]byte
	}{{"mix", mix}, {"claims", claims}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Check(in.rs[int(next.Add(1))%len(in.rs)])
				}
			})
			reportRates(b, int(next.Load()), cpuTime()-cpu)
		})
	}
}

// cpuTime is the CPU time this process has used: on a machine shared with
// other work, CPU time per resource is steadier than wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports resources per second of wall time and CPU time per
// resource (GC included).
func reportRates(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resources/s")
	if cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/resource")
	}
}

// exportLines returns the member resources of a generated data set of the
// given size in their exported form, all of them and the claim EOBs alone.
func exportLines(b *testing.B, members int) (mix, claims [][]byte) {
	d, err := fixtures.Generate(fixtures.Options{Members: members})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range d.Resources {
		if r.PatientID == "" && r.Type != "Organization" && r.Type != "Practitioner" {
			continue
		}
		raw, err := reference.ExportForm(r.Type, r.JSON)
		if err != nil {
			b.Fatal(err)
		}
		mix = append(mix, raw)
		if r.Type == "ExplanationOfBenefit" && !bytes.Contains(raw, []byte(`"use":"preauthorization"`)) {
			claims = append(claims, raw)
		}
	}
	return mix, claims
}

// BenchmarkRatios measures, on the same lines in the same run and on every
// core, a bare encoding/json decode into maps, google/fhir/go's R4 parse,
// and full validation with its start-up (packages loaded, definitions
// compiled): the exported mix of a 1,000-member data set, and its claim
// EOBs alone. It reports each as lines/s and validation's and the parse's
// rates as fractions of the bare decode's (the targets: validation at
// least 1/5 of it on the mix, 1/6 on claim EOBs).
//
//	go test ./validators/check -run '^$' -bench Ratios -benchtime 3x
func BenchmarkRatios(b *testing.B) {
	dir := packagestest.Dir(b)
	mix, claims := exportLines(b, 1000)
	newChecker := func() (*check.Checker, error) {
		reg, err := packages.Load(dir)
		if err != nil {
			return nil, err
		}
		return check.New(reg, check.Options{}), nil
	}
	for _, in := range []struct {
		name  string
		lines [][]byte
	}{{"mix", mix}, {"claims", claims}} {
		b.Run(in.name, func(b *testing.B) {
			var sum check.Measurement
			runs := 0
			for b.Loop() {
				m, err := check.Measure(context.Background(), in.lines, newChecker, 0)
				if err != nil {
					b.Fatal(err)
				}
				if m.Errors > 0 {
					b.Fatalf("%d errors validating the export", m.Errors)
				}
				sum.Lines += m.Lines
				sum.Decode += m.Decode
				sum.Parse += m.Parse
				sum.Validate += m.Validate
				sum.Startup += m.Startup
				runs++
			}
			b.ReportMetric(float64(len(in.lines)), "lines")
			b.ReportMetric(sum.Rate(sum.Decode), "decode-lines/s")
			b.ReportMetric(sum.Rate(sum.Parse), "r4parse-lines/s")
			b.ReportMetric(sum.Rate(sum.Validate), "validate-lines/s")
			b.ReportMetric(sum.Decode.Seconds()/sum.Validate.Seconds(), "validate/decode")
			b.ReportMetric(sum.Decode.Seconds()/sum.Parse.Seconds(), "r4parse/decode")
			b.ReportMetric(sum.Startup.Seconds()/float64(runs), "startup-s")
		})
	}
}
