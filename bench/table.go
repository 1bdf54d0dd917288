package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Targets are what the benchmark holds the whole suite to (issue 12): on
// 2 cores, a whole run at 3,000 members within 2 minutes, at 10,000 within
// 8, growing at most 14× from 300 to 3,000 members (linear is 10×), and at
// most 400 MB of memory at any size.
var Targets = struct {
	At3000Seconds, At10000Seconds, Growth300To3000, PeakMB float64
}{120, 480, 14, 400}

// WriteTable prints the report as plain-text tables: medians, with the
// spread over the runs in parentheses when there was more than one.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pdex-conform bench: %s, %d CPUs (GOMAXPROCS %d), %d run(s) per measurement, 1-min load average %s (the machine may be shared)\n",
		r.GoVersion, r.CPUs, r.GOMAXPROCS, r.Runs, spread(r.Load, 1))
	if r.Runs > 1 {
		fmt.Fprintln(tw, "figures are medians, (min-max) over the runs")
	}
	writeSuite(tw, r)
	writeAreas(tw, r)
	writeTargets(tw, r)
	writeValidation(tw, r)

	fmt.Fprintln(tw, "\nReference export of one Group (kick-off to last file downloaded, 4 parallel downloads)")
	fmt.Fprintln(tw, "members\tdata set\texported\tfiles\tMB\tseconds\tresources/s\tserver peak MB\tclient peak MB\t")
	for _, s := range r.Sizes {
		e := s.Export
		if e == nil {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", s.Members, thousands(s.Resources), thousands(e.Resources), e.Files,
			float64(e.Bytes)/(1<<20), spread(e.Seconds, 2), spread(e.PerSecond, 0), spread(e.ServerPeakMB, 0), spread(e.ClientPeakMB, 0))
	}
	for _, s := range r.Sizes {
		for _, v := range []*Validation{s.Validation, s.Claims, s.Repeated} {
			if v != nil && len(v.Sample) > 0 {
				fmt.Fprintf(tw, "\n%d members, %s: first errors:\n  %s\n", s.Members, v.Input, strings.Join(v.Sample, "\n  "))
			}
		}
	}
	return tw.Flush()
}

func writeSuite(tw io.Writer, r *Report) {
	if !hasSuite(r) {
		return
	}
	fmt.Fprintln(tw, "\nWhole suite (pdex-conform run --config against serve of the data set, every spec; each run in its own processes)")
	fmt.Fprintln(tw, "members\texported\tspecs\tpassed\tfailed\tskipped\tseconds\tCPU s\tload\tpeak MB\tserver MB\tdownloaded MB\tdisk peak MB\tleft at end MB\t")
	for _, s := range r.Sizes {
		u := s.Suite
		if u == nil {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Members, thousands(u.Exported), u.Specs, u.Passed, u.Failed, u.Skipped,
			spread(u.Seconds, 1), spread(u.CPUSeconds, 1), spread(u.Load, 1), spread(u.PeakMB, 0), spread(u.ServerPeakMB, 0),
			spread(u.DownloadedMB, 0), spread(u.DiskPeakMB, 0), spread(u.DiskLeftMB, 0))
	}
}

// writeAreas prints each area's time at every size and its growth
// exponent from one size to the next: 1 is linear, so a superlinear area
// shows at once.
func writeAreas(tw io.Writer, r *Report) {
	if !hasSuite(r) {
		return
	}
	fmt.Fprintln(tw, "\nSeconds per area at each size, and growth exponent from one size to the next (time ∝ data^exponent: 1 is linear, 2 quadratic)")
	head := []string{"area"}
	var sizes []*Size
	for _, s := range r.Sizes {
		if s.Suite != nil {
			sizes = append(sizes, s)
			head = append(head, thousands(s.Members))
		}
	}
	for _, g := range r.Growth {
		head = append(head, fmt.Sprintf("exp %s→%s", thousands(g.From), thousands(g.To)))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	// The costliest areas at the largest size first.
	var names []string
	cost := map[string]float64{}
	for _, s := range sizes {
		for _, a := range s.Suite.Areas {
			if _, seen := cost[a.Name]; !seen {
				names = append(names, a.Name)
			}
			cost[a.Name] = a.Seconds.Median
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(cost[b], cost[a]) })
	for _, name := range names {
		row := []string{name}
		for _, s := range sizes {
			cell := "-"
			for _, a := range s.Suite.Areas {
				if a.Name == name {
					cell = spread(a.Seconds, 2)
				}
			}
			row = append(row, cell)
		}
		for _, g := range r.Growth {
			cell := "-"
			if e, ok := g.Areas[name]; ok {
				cell = fmt.Sprintf("%.2f", e)
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	row := []string{"whole run"}
	for _, s := range sizes {
		row = append(row, spread(s.Suite.Seconds, 1))
	}
	for _, g := range r.Growth {
		row = append(row, fmt.Sprintf("%.2f (%.1f× time for %.1f× data)", g.Exponent, g.Time, g.Data))
	}
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
}

// writeTargets says, for each target the report has a figure for, the
// figure and whether it is met. Wall-clock figures depend on the machine's
// load, printed with them.
func writeTargets(tw io.Writer, r *Report) {
	if !hasSuite(r) {
		return
	}
	fmt.Fprintln(tw, "\nTargets (whole suite; wall clock on a machine whose load is given)")
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for _, s := range r.Sizes {
		u := s.Suite
		if u == nil {
			continue
		}
		switch s.Members {
		case 3000:
			fmt.Fprintf(tw, "whole run at 3,000 members\t%.0f s (CPU %.0f s, load %.1f)\t≤ %.0f s\t%s\t\n", u.Seconds.Median, u.CPUSeconds.Median, u.Load.Median, Targets.At3000Seconds, met(u.Seconds.Median <= Targets.At3000Seconds))
		case 10000:
			fmt.Fprintf(tw, "whole run at 10,000 members (%s exported)\t%.0f s (CPU %.0f s, load %.1f)\t≤ %.0f s\t%s\t\n", thousands(u.Exported), u.Seconds.Median, u.CPUSeconds.Median, u.Load.Median, Targets.At10000Seconds, met(u.Seconds.Median <= Targets.At10000Seconds))
		}
	}
	var a, b *Size
	for _, s := range r.Sizes {
		switch {
		case s.Suite == nil:
		case s.Members == 300:
			a = s
		case s.Members == 3000:
			b = s
		}
	}
	if a != nil && b != nil {
		t := b.Suite.Seconds.Median / a.Suite.Seconds.Median
		c := b.Suite.CPUSeconds.Median / a.Suite.CPUSeconds.Median
		fmt.Fprintf(tw, "growth 300→3,000 members (%.1f× data)\t%.1f× time (%.1f× CPU)\t≤ %.0f×\t%s\t\n", float64(b.Suite.Exported)/float64(max(a.Suite.Exported, 1)), t, c, Targets.Growth300To3000, met(t <= Targets.Growth300To3000))
	}
	peak, at := 0.0, 0
	for _, s := range r.Sizes {
		if s.Suite != nil && s.Suite.PeakMB.Max >= peak {
			peak, at = s.Suite.PeakMB.Max, s.Members
		}
	}
	fmt.Fprintf(tw, "peak memory of the run, every size\t%.0f MB (at %s members)\t≤ %.0f MB\t%s\t\n", peak, thousands(at), Targets.PeakMB, met(peak <= Targets.PeakMB))
	for _, s := range r.Sizes {
		if u := s.Suite; u != nil {
			fmt.Fprintf(tw, "downloads at %s members\t%.0f MB downloaded, at most %.0f MB on disk at once, %.0f MB left at the end (the shared full export)\t\t\t\n",
				thousands(s.Members), u.DownloadedMB.Median, u.DiskPeakMB.Max, u.DiskLeftMB.Max)
		}
	}
}

// writeValidation prints validation beside the parse floor of the same
// lines (a bare JSON decode and google/fhir/go's R4 parse, each on every
// core, in one process), then `validate` as a command: start-up included,
// its peak memory.
func writeValidation(tw io.Writer, r *Report) {
	hasFloor, hasValidate := false, false
	for _, s := range r.Sizes {
		hasFloor = hasFloor || s.Floor != nil
		hasValidate = hasValidate || s.Validation != nil
	}
	if hasFloor {
		fmt.Fprintln(tw, "\nValidation beside the parse floor (the same lines, every core, back to back in one process): lines/s, and CPU µs per line")
		fmt.Fprintln(tw, "members\tinput\tlines\tbare decode/s\tgoogle/fhir/go parse/s\tvalidation/s\tdecode CPU µs\tparse CPU µs\tvalidation CPU µs\tvalidation ÷ decode (CPU)\t")
		for _, s := range r.Sizes {
			f := s.Floor
			if f == nil {
				continue
			}
			ratio := "-"
			if f.DecodeCPUMicros.Median > 0 {
				ratio = "1/" + strconv.FormatFloat(f.CheckCPUMicros.Median/f.DecodeCPUMicros.Median, 'f', 1, 64)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Members, f.Input, thousands(f.Lines),
				spread(f.DecodePerSecond, 0), spread(f.R4PerSecond, 0), spread(f.CheckPerSecond, 0),
				spread(f.DecodeCPUMicros, 0), spread(f.R4CPUMicros, 0), spread(f.CheckCPUMicros, 0), ratio)
		}
	}
	if hasValidate {
		fmt.Fprintln(tw, "\npdex-conform validate (structure + profiles + PDex rules, every core, output in input order)")
		fmt.Fprintln(tw, "members\tinput\tlines\terrors\tresources/s\twith start-up/s\tstart-up s\tpackages s\ttotal s\tpeak MB\t")
		for _, s := range r.Sizes {
			for _, v := range []*Validation{s.Validation, s.Claims, s.Repeated} {
				if v == nil {
					continue
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Members, v.Input, thousands(v.Resources), v.Errors,
					spread(v.PerSecond, 0), spread(v.WithStartup, 0), spread(v.StartupSeconds, 2), spread(v.PackagesSeconds, 2),
					spread(v.TotalSeconds, 1), spread(v.PeakMB, 0))
			}
		}
	}
}

func hasSuite(r *Report) bool {
	for _, s := range r.Sizes {
		if s.Suite != nil {
			return true
		}
	}
	return false
}

// spread formats a Stat: the median, and (min-max) when the runs differ.
func spread(s Stat, decimals int) string {
	f := func(v float64) string {
		if decimals == 0 {
			return thousands(int(v + 0.5))
		}
		return strconv.FormatFloat(v, 'f', decimals, 64)
	}
	if len(s.Samples) <= 1 || f(s.Min) == f(s.Max) {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s-%s)", f(s.Median), f(s.Min), f(s.Max))
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
