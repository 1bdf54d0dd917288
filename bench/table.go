package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as plain-text tables: medians, with the
// spread over the runs in parentheses when there was more than one.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pdex-conform bench: %s, %d CPUs (GOMAXPROCS %d), %d run(s) per measurement, 1-min load average %s\n",
		r.GoVersion, r.CPUs, r.GOMAXPROCS, r.Runs, spread(r.Load, 1))
	if r.Runs > 1 {
		fmt.Fprintln(tw, "figures are medians, (min-max) over the runs")
	}

	fmt.Fprintln(tw, "\nValidation (structure + profiles + PDex rules, as `pdex-conform validate`)")
	fmt.Fprintln(tw, "members\tinput\tlines\terrors\tresources/s\tstart-up s\tpackages s\ttotal s\tpeak MB\t")
	for _, s := range r.Sizes {
		for _, v := range []*Validation{s.Validation, s.Claims, s.Repeated} {
			if v == nil {
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", s.Members, v.Input, thousands(v.Resources), v.Errors,
				spread(v.PerSecond, 0), spread(v.StartupSeconds, 2), spread(v.PackagesSeconds, 2), spread(v.TotalSeconds, 1), spread(v.PeakMB, 0))
		}
	}

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
		h := s.Harness
		if h == nil {
			continue
		}
		fmt.Fprintln(tw, "\nHarness (runner.Run: full export specs + PA-PROF-01 against the export above)")
		fmt.Fprintln(tw, "members\tresources\tseconds\tvalidation alone s\tratio\tspecs passed\tpeak MB\t")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.2f\t%d/%d\t%s\t\n", s.Members, thousands(h.Resources), spread(h.Seconds, 1),
			spread(s.Validation.TotalSeconds, 1), h.VsValidation, h.Passed, h.Specs, spread(h.PeakMB, 0))
	}

	if d := r.DefaultRun; d != nil {
		fmt.Fprintln(tw, "\nFull default run (pdex-conform run --target reference, every spec)")
		fmt.Fprintln(tw, "seconds\twith process start s\tspecs passed\tpeak MB\t")
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t\n", spread(d.Seconds, 1), spread(d.ProcessSeconds, 1), d.Passed, d.Specs, spread(d.PeakMB, 0))
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
