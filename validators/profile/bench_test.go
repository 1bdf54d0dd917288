package profile

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// benchExamples returns the example resources of the shipped packages that
// claim a profile, grouped by resource type.
func benchExamples(b *testing.B) (*Validator, map[string][][]byte) {
	reg := packagestest.Registry(b)
	v := New(reg, Options{})
	byType := map[string][][]byte{}
	for _, p := range reg.Packages() {
		if p.Name == "hl7.fhir.r4.examples" {
			continue
		}
		err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			if !strings.Contains(string(ex.Raw), `"profile"`) {
				return nil
			}
			r := v.Validate(ex.Raw)
			if len(r.Checked) < 2 {
				return nil
			}
			rt, _, _ := strings.Cut(strings.TrimPrefix(r.Checked[0], "http://hl7.org/fhir/StructureDefinition/"), "|")
			byType[rt] = append(byType[rt], ex.Raw)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return v, byType
}

// stripNarrative removes the narrative and whitespace of examples: the
// shipped examples carry large generated narratives, which payer exports
// (the validator's real input) mostly do not.
func stripNarrative(b *testing.B, byType map[string][][]byte) map[string][][]byte {
	out := map[string][][]byte{}
	for rt, exs := range byType {
		for _, raw := range exs {
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				b.Fatal(err)
			}
			delete(m, "text")
			c, err := json.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			out[rt] = append(out[rt], c)
		}
	}
	return out
}

var benchTypes = []string{"ExplanationOfBenefit", "Patient", "Coverage", "Organization", "Practitioner", "Observation", "Condition", "Encounter", "Provenance", "Group"}

// BenchmarkValidateCompact validates the examples without narrative, one
// resource type at a time, on one goroutine.
func BenchmarkValidateCompact(b *testing.B) {
	v, byType := benchExamples(b)
	byType = stripNarrative(b, byType)
	for _, rt := range benchTypes {
		ex := byType[rt]
		if len(ex) == 0 {
			continue
		}
		size := 0
		for _, e := range ex {
			size += len(e)
		}
		b.Run(rt, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(ex)))
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				v.Validate(ex[i%len(ex)])
				i++
			}
			reportRates(b, cpuTime()-cpu)
		})
	}
}

// BenchmarkValidateParallel validates a mix of all claimed examples without
// narrative on every core (GOMAXPROCS goroutines), as the CLI does.
func BenchmarkValidateParallel(b *testing.B) {
	v, byType := benchExamples(b)
	byType = stripNarrative(b, byType)
	var mix [][]byte
	for _, exs := range byType {
		mix = append(mix, exs...)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v.Validate(mix[int(next.Add(1))%len(mix)])
		}
	})
	reportRates(b, cpuTime()-cpu)
}

func BenchmarkValidate(b *testing.B) {
	v, byType := benchExamples(b)
	for _, rt := range benchTypes {
		ex := byType[rt]
		if len(ex) == 0 {
			continue
		}
		b.Run(rt, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				v.Validate(ex[i%len(ex)])
				i++
			}
			reportRates(b, cpuTime()-cpu)
		})
	}
}

// cpuTime is the process's CPU time (user and system). On a machine shared
// with other work, CPU time per resource is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports resources per second of wall time and, from CPU
// time, per second of one core.
func reportRates(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resources/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkStartup measures what a run pays before its first result: load
// the shipped packages, build a validator, validate one CARIN EOB (which
// compiles the EOB, CARIN and data type definitions it needs). "warm"
// reads the package index cache a previous run left; "cold" builds it.
func BenchmarkStartup(b *testing.B) {
	dir := packagestest.Dir(b)
	reg := packagestest.Registry(b)
	var eob []byte
	if err := reg.WalkExamples("hl7.fhir.us.carin-bb", func(ex packages.Example) error {
		if strings.HasSuffix(ex.File, "EOBInpatientNonFinancial1.json") {
			eob = ex.Raw
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, cache string) {
		r, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, dir)
		if err != nil {
			b.Fatal(err)
		}
		res := New(r, Options{}).Validate(eob)
		if res.Errors() != 0 || len(res.Checked) < 2 {
			b.Fatalf("first validation: %v", res.Issues)
		}
		r.Close()
	}
	b.Run("warm", func(b *testing.B) {
		cache := b.TempDir()
		run(b, cache)
		for b.Loop() {
			run(b, cache)
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			run(b, b.TempDir())
		}
	})
}
