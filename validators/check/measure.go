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
	// checked. Startup is the part before the first line.
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
// the same lines in the same process, one after the other, so that their
// ratios hold on a loaded machine too.
func Measure(ctx context.Context, lines [][]byte, newChecker func() (*Checker, error), workers int) (Measurement, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m := Measurement{Lines: len(lines), Workers: workers}
	var err error
	m.Decode, err = timeParallel(ctx, lines, workers, func() func([]byte) {
		return func(line []byte) {
			var v map[string]any
			_ = json.Unmarshal(line, &v)
		}
	})
	if err != nil {
		return m, err
	}
	m.Parse, err = timeParallel(ctx, lines, workers, func() func([]byte) {
		p, perr := r4.New()
		if perr != nil {
			panic(perr) // only for an unknown FHIR version
		}
		return func(line []byte) { p.Check(line) }
	})
	if err != nil {
		return m, err
	}
	start := time.Now()
	c, err := newChecker()
	if err != nil {
		return m, fmt.Errorf("measure: %w", err)
	}
	var errs, warns atomic.Int64
	var first sync.Once
	_, err = timeParallel(ctx, lines, workers, func() func([]byte) {
		return func(line []byte) {
			first.Do(func() { m.Startup = time.Since(start) })
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
	})
	m.Validate = time.Since(start)
	m.Errors, m.Warnings = int(errs.Load()), int(warns.Load())
	return m, err
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
