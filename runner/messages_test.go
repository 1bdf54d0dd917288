package runner

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/pdex-conform/pdex-conform/verdict"
)

// Every failure message is a sentence about the server: never a matcher's
// dump of values, a pointer, a Go type name or a source location. The fault
// table (TestFaultTable) checks the messages of its runs against these.

// notForReaders are what must never reach the console or a report.
var notForReaders = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a matcher's Expected", regexp.MustCompile(`(?m)^Expected\b|\bExpected\s*\n`)},
	{"a Go type annotation", regexp.MustCompile(`<[*\[\]\w.]+ \| `)},
	{"a pointer", regexp.MustCompile(`0x[0-9a-f]{6,}`)},
	{"a Go type name", regexp.MustCompile(`\*(ecdsa|rsa|url|fmt|net|bulk|smart|framework)\.[A-Z]\w*|\bconfig\.Config\b`)},
	{"a source location", regexp.MustCompile(`\b[a-z_]+\.go:\d+`)},
	{"Gomega", regexp.MustCompile(`(?i)gomega`)},
	{"a struct dump", regexp.MustCompile(`\{\s*\n\s+\w+: `)},
}

// checkMessages scans the messages of every failed or blocked spec of the
// fault table's runs (every fault, every area, each edition): the fault
// table runs the suites once, and this reads what they said.
func checkMessages(t *testing.T, runs []tableRun, results map[string][]outcome) {
	checked, faultRuns := 0, 0
	for _, r := range runs {
		if len(r.Faults) > 0 {
			faultRuns++
		}
		for _, o := range results[r.name()] {
			if o.State != verdict.Failed && o.State != verdict.Blocked {
				continue
			}
			checked++
			for _, bad := range notForReaders {
				if m := bad.re.FindString(o.Summary); m != "" {
					t.Errorf("%s: %s: the message readers see holds %s (%q):\n%s", r.name(), o.Key, bad.what, m, o.Summary)
				}
			}
			if o.State == verdict.Failed && !isSentence(o.Raw) {
				t.Errorf("%s: %s (%s): the spec's own message is not a sentence about the server:\n%s", r.name(), o.Key, o.File, o.Raw)
			}
		}
	}
	if checked < faultRuns {
		t.Errorf("only %d failure messages in %d fault runs", checked, faultRuns)
	}
	t.Logf("%d failure messages of %d fault runs checked", checked, faultRuns)
}

// isSentence reports whether a spec's own message reads as a sentence: it
// starts with a capital letter and holds no matcher output.
func isSentence(msg string) bool {
	msg = strings.TrimSpace(msg)
	if msg == "" || strings.Contains(msg, "\nExpected") || strings.HasPrefix(msg, "Expected") || strings.Contains(msg, "Unexpected error:") {
		return false
	}
	for _, r := range msg {
		return unicode.IsUpper(r) || unicode.IsDigit(r)
	}
	return false
}
