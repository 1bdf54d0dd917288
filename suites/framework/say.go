package framework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// Messages. A failure message is a sentence about the server: what it did,
// with counts and the first examples, and the resource or exchange at
// fault; never a matcher's dump of values, Go types or pointers. The
// helpers here write such sentences; specs use them instead of Gomega
// assertions wherever a value would otherwise be dumped.

// Failf fails the spec with a sentence (a capital first letter and a full
// stop are added when missing).
func Failf(format string, args ...any) {
	Fail(Sentence(fmt.Sprintf(format, args...)), 1)
}

// Checkf fails the spec with the sentence unless ok.
func Checkf(ok bool, format string, args ...any) {
	if !ok {
		Fail(Sentence(fmt.Sprintf(format, args...)), 1)
	}
}

// NoError fails the spec when err is not nil, saying what was being done
// ("Reading the Group") and why it did not work, in plain words. An error
// that comes from a failed prerequisite (the target stopped answering, no
// token) blocks the spec instead: the Env has charged it to the spec.
func NoError(err error, doing string) {
	if err == nil {
		return
	}
	var pe *PrerequisiteError
	if errors.As(err, &pe) {
		Block(pe.Prerequisite, pe.Reason)
	}
	Fail(Sentence(doing+" failed: "+Explain(err)), 1)
}

// Sentence makes text a sentence: a capital first letter, and a full stop
// unless it ends with punctuation already.
func Sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	last, _ := utf8.DecodeLastRuneInString(s)
	if !strings.ContainsRune(".!?:)…\"", last) {
		s += "."
	}
	return s
}

// Explain says why a request or step failed in plain words: a connection
// refused or reset, a time-out, a redirect loop, a target that stopped
// answering; other errors keep their own text, which the client library
// writes as sentences about the exchange.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, bulk.ErrTargetDown):
		return "the target had stopped answering, so the request was not sent"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time (" + err.Error() + ")"
	}
	if bulk.ConnectionFailure(err) {
		return err.Error() + " (the server did not answer)"
	}
	return err.Error()
}

// Examples names up to n of the items, and how many there are in all:
// "3 (Patient/a, Patient/b, Patient/c)" or "120 (e.g. Patient/a, …)".
func Examples(items []string, n int) string {
	switch {
	case len(items) == 0:
		return "none"
	case len(items) <= n:
		return fmt.Sprintf("%d (%s)", len(items), strings.Join(items, ", "))
	}
	return fmt.Sprintf("%d (e.g. %s)", len(items), strings.Join(items[:n], ", "))
}
