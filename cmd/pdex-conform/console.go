package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/onsi/ginkgo/v2/formatter"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// console is what `run` prints: progress on stderr while the run goes, then
// a summary and the verdict line on stdout. --quiet leaves only the verdict
// line; --verbose adds Ginkgo's account of every spec (on stderr). Colour
// is used only on a terminal. Everything printed is scrubbed of secrets.
type console struct {
	out, err           io.Writer
	quiet, verbose     bool
	outColor, errColor bool
	cfg                *config.Config
	start              time.Time

	mu       sync.Mutex
	lastKey  string
	lastMsg  string
	scrubFor string
	scrubber *reports.Scrubber
}

func newConsole(stdout, stderr io.Writer, quiet, verbose bool, cfg *config.Config) *console {
	return &console{
		out: stdout, err: stderr, quiet: quiet, verbose: verbose && !quiet,
		outColor: isTerminal(stdout), errColor: isTerminal(stderr),
		cfg: cfg, start: time.Now(),
	}
}

// scrub removes secrets. The configuration is read each time because the
// runner completes it (with the reference server's client key) after the
// console is made; the Scrubber is rebuilt only when the secrets change.
func (c *console) scrub(s string) string {
	key := strings.Join(secretsOf(c.cfg), "\x00")
	if c.scrubber == nil || key != c.scrubFor {
		c.scrubber, c.scrubFor = reports.NewScrubber(secretsOf(c.cfg)...), key
	}
	return c.scrubber.Scrub(s)
}

func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// progress reports long work on stderr, with the time since the start.
// It is called from download goroutines too. A message repeating the one
// before is dropped; on a terminal, a message about the same thing as the
// one before (say, export status polls) replaces it in place.
func (c *console) progress(format string, args ...any) {
	if c.quiet {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := c.scrub(fmt.Sprintf(format, args...))
	if msg == c.lastMsg {
		return
	}
	key, _, _ := strings.Cut(msg, ":")
	replace := c.errColor && !c.verbose && key == c.lastKey
	c.lastKey, c.lastMsg = key, msg
	stamp := fmt.Sprintf("%6.1fs", time.Since(c.start).Seconds())
	line := "  " + paint(c.errColor, "2", stamp) + "  " + msg + "\n"
	if replace {
		line = "\x1b[1A\r\x1b[K" + line
	}
	io.WriteString(c.err, line)
}

// captureGinkgo sends Ginkgo's own console reporter (which writes to the
// stdout Ginkgo saw at start-up, whatever writers run was given) to stderr,
// scrubbed, with --verbose, and nowhere otherwise: the summary says what
// matters. It returns the function that puts things back.
func (c *console) captureGinkgo() (restore func()) {
	prev := formatter.ColorableStdOut
	var lw *lineWriter
	if c.verbose {
		lw = &lineWriter{emit: func(line string) error {
			// Under the lock: progress is written from download
			// goroutines at the same time.
			c.mu.Lock()
			defer c.mu.Unlock()
			c.lastKey, c.lastMsg = "", ""
			_, err := io.WriteString(c.err, c.scrub(line))
			return err
		}}
		formatter.ColorableStdOut = lw
	} else {
		formatter.ColorableStdOut = io.Discard
	}
	return func() {
		if lw != nil {
			lw.Flush()
		}
		formatter.ColorableStdOut = prev
	}
}

// lineWriter hands whole lines on, so that a secret split across two
// writes is still caught by the scrubber.
type lineWriter struct {
	emit func(line string) error
	buf  bytes.Buffer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		if err := l.emit(string(l.buf.Next(i + 1))); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush hands on what is left without a newline.
func (l *lineWriter) Flush() {
	if l.buf.Len() > 0 {
		l.emit(l.buf.String() + "\n")
		l.buf.Reset()
	}
}

// maxListed bounds the failed, warning and skipped specs listed.
const maxListed = 15

// summary prints, on stdout, the per-area table, the specs that did not
// pass with why, the verdict's reasons and the reports written.
func (c *console) summary(r *reports.Run, written []string) {
	w := c.out
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tSPECS\tPASSED\tFAILED\tWARNINGS\tSKIPPED\tBLOCKED")
	var uncovered []string
	for _, a := range r.Areas {
		if a.Total() == 0 {
			uncovered = append(uncovered, a.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", a.Name, a.Total(), a.Passed, a.Failed, a.Warnings, a.Skipped, a.Blocked)
	}
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", "TOTAL", r.Counts.Total, r.Counts.Passed, r.Counts.Failed, r.Counts.Warnings, r.Counts.Skipped, r.Counts.Blocked)
	tw.Flush()
	if len(uncovered) > 0 {
		fmt.Fprintf(w, "No specs ran for: %s.\n", strings.Join(uncovered, ", "))
	}
	for _, group := range []struct {
		state, mark, color string
	}{{reports.Failed, "FAIL", "31"}, {reports.Warning, "WARN", "33"}, {reports.Skipped, "SKIP", "2"}} {
		var n, filtered int
		var previous string
		for _, s := range r.Specs {
			if s.State != group.state {
				continue
			}
			if s.Filtered {
				filtered++
				continue
			}
			if n == 0 {
				fmt.Fprintln(w)
			}
			if n++; n > maxListed {
				continue
			}
			ids := strings.Join(s.Requirements, ",")
			if ids == "" {
				ids = s.Area
			}
			fmt.Fprintf(w, "%s %s %s\n", paint(c.outColor, group.color, group.mark), ids, s.Name)
			if s.Summary == previous {
				// A shared step (the full export) failing fails every spec
				// that needs it; say why once.
				fmt.Fprintln(w, "     (the same as above)")
				continue
			}
			previous = s.Summary
			for _, l := range strings.Split(s.Summary, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					fmt.Fprintf(w, "     %s\n", clipLine(l, 160))
				}
			}
		}
		if n > maxListed {
			fmt.Fprintf(w, "     … and %d more (see the report)\n", n-maxListed)
		}
		if filtered > 0 {
			fmt.Fprintf(w, "\n%d specs not selected by the label filter %q.\n", filtered, r.Meta.LabelFilter)
		}
	}
	c.blocked(r)
	fmt.Fprintln(w)
	if len(r.Causes) > 0 {
		fmt.Fprintln(w, paint(c.outColor, "1", "Root causes, first:"))
		for i, cause := range r.Causes {
			line := cause.What
			if cause.Blocked > 0 {
				line += fmt.Sprintf(" %s blocked by it.", plural(cause.Blocked, "spec"))
			}
			fmt.Fprintf(w, "%d. %s\n", i+1, line)
			if cause.Fix != "" {
				fmt.Fprintf(w, "   Fix: %s\n", cause.Fix)
			}
		}
		fmt.Fprintln(w)
	}
	for _, reason := range r.Reasons {
		if isCauseReason(r, reason) {
			continue
		}
		fmt.Fprintf(w, "%s\n", reason)
	}
	if r.Coverage.Resources > 0 {
		line := fmt.Sprintf("%d resources validated", r.Coverage.Resources)
		if r.Coverage.NotCheckedTotal > 0 {
			line += fmt.Sprintf("; %d bindings not checkable offline (%d value sets; see the report)", r.Coverage.NotCheckedTotal, len(r.Coverage.NotChecked))
		}
		fmt.Fprintln(w, line+".")
	}
	for _, p := range written {
		fmt.Fprintf(w, "Wrote %s\n", p)
	}
	fmt.Fprintf(w, "Results hash %s (SHA-256 of the JSON results; the HTML report shows the same)\n", r.ResultsHash)
	fmt.Fprintln(w)
}

// blocked lists the blocked specs, grouped by what blocked them: one line
// per prerequisite with the requirements it left unchecked, not one per
// spec.
func (c *console) blocked(r *reports.Run) {
	var order []string
	by := map[string][]string{}
	count := map[string]int{}
	for _, s := range r.Specs {
		if s.State != reports.Blocked {
			continue
		}
		if _, ok := by[s.BlockedBy]; !ok {
			order = append(order, s.BlockedBy)
		}
		count[s.BlockedBy]++
		for _, id := range s.Requirements {
			if !slices.Contains(by[s.BlockedBy], id) {
				by[s.BlockedBy] = append(by[s.BlockedBy], id)
			}
		}
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintln(c.out)
	for _, p := range order {
		fmt.Fprintf(c.out, "%s %s by %s: %s\n", paint(c.outColor, "35", "BLOCKED"), plural(count[p], "spec"), p, verdict.List(by[p]))
	}
}

func isCauseReason(r *reports.Run, reason string) bool {
	for _, c := range r.Causes {
		if strings.HasPrefix(reason, c.What) {
			return true
		}
	}
	return false
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// verdictLine prints the one line every mode prints.
func (c *console) verdictLine(r *reports.Run) {
	code := map[string]string{reports.Conformant: "1;32", reports.NotConformant: "1;31", reports.Incomplete: "1;33", reports.GapAnalysis: "1;33"}[r.Verdict]
	warnings := "warnings"
	if r.Counts.Warnings == 1 {
		warnings = "warning"
	}
	fmt.Fprintf(c.out, "%s: %s, PDex %s: %d passed, %d failed, %d %s, %d skipped, %d blocked in %s\n",
		paint(c.outColor, code, r.Verdict), r.Meta.Target, r.Meta.Edition,
		r.Counts.Passed, r.Counts.Failed, r.Counts.Warnings, warnings, r.Counts.Skipped, r.Counts.Blocked, shortDuration(r.Meta.Duration))
}

func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func clipLine(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
