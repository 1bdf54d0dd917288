package check

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// Measurement is what Measure found: the time of three ways of reading the
// same lines on the same cores, one after the other.
type Measurement struct {
	Lines   int
	Workers int
	// Decode is a bare encoding/json decode of each line into a map: the
	// floor of any reading of JSON, the yardstick of the other two.
	Decode time.Duration
	// Parse is google/fhir/go's R4 unmarshal of each line (its structure
	// check included): what validation cost per line when it went
	// through google/fhir/go.
	Parse time.Duration
	// Validate is all checks (structure, profiles, PDex rules) from
	// nothing: the Checker made (packages loaded, by newChecker) and its
	// definitions compiled as the lines need them, then every line
	// checked. Startup is the making of the Checker (the compiling of
	// definitions happens with the first lines, and is in Validate).
	Validate, Startup time.Duration
	// Errors and Warnings count the validation issues.
	Errors, Warnings int
}

// Rate returns lines per second of a duration of the measurement.
func (m Measurement) Rate(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(m.Lines) / d.Seconds()
}

// Measure reads lines three ways, each on workers goroutines (0: one per
// core): a bare encoding/json decode, a google/fhir/go parse, and full
// validation by a Checker that newChecker makes inside the timing (so that
// start-up is counted, as a user of `validate` pays it). The three run on
// the same lines in the same process, interleaved: the lines are taken in
// eight slices, each read the three ways in turn, so that a machine whose
// load changes during the measurement weighs on the three alike.
func Measure(ctx context.Context, lines [][]byte, newChecker func() (*Checker, error), workers int) (Measurement, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m := Measurement{Lines: len(lines), Workers: workers}
	decode := func() func([]byte) {
		return func(line []byte) {
			var v map[string]any
			_ = json.Unmarshal(line, &v)
		}
	}
	parse := func() func([]byte) {
		p, err := r4.New()
		if err != nil {
			panic(err) // only for an unknown FHIR version
		}
		return func(line []byte) { p.Check(line) }
	}
	var c *Checker
	var errs, warns atomic.Int64
	validate := func() func([]byte) {
		return func(line []byte) {
			var e, w int64
			for _, is := range c.Check(line) {
				switch is.Severity {
				case validators.Error:
					e++
				case validators.Warning:
					w++
				}
			}
			errs.Add(e)
			warns.Add(w)
		}
	}
	const slices = 8
	for i := range slices {
		part := lines[i*len(lines)/slices : (i+1)*len(lines)/slices]
		// Each reading starts on a collected heap, so that none pays for
		// the garbage of the one before.
		runtime.GC()
		d, err := timeParallel(ctx, part, workers, decode)
		if err != nil {
			return m, err
		}
		m.Decode += d
		runtime.GC()
		if d, err = timeParallel(ctx, part, workers, parse); err != nil {
			return m, err
		}
		m.Parse += d
		runtime.GC()
		start := time.Now()
		if c == nil {
			if c, err = newChecker(); err != nil {
				return m, fmt.Errorf("measure: %w", err)
			}
			m.Startup = time.Since(start)
		}
		_, err = timeParallel(ctx, part, workers, validate)
		m.Validate += time.Since(start)
		if err != nil {
			return m, err
		}
	}
	m.Errors, m.Warnings = int(errs.Load()), int(warns.Load())
	return m, nil
}

// timeParallel runs fn over every line on workers goroutines (each with
// its own fn, from newFn) and returns the wall time taken.
func timeParallel(ctx context.Context, lines [][]byte, workers int, newFn func() func([]byte)) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := newFn()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(lines) {
					return
				}
				fn(lines[i])
			}
		}()
	}
	wg.Wait()
	return time.Since(start), ctx.Err()
}
