package framework

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/evidence"
)

// Prerequisites that are not any one spec's subject: when one fails, every
// spec that needs it is blocked by it (neither passed nor failed) and the
// verdict names it first, as a root cause, with what to fix.
const (
	// PrereqTarget is the target answering at all.
	PrereqTarget = "the target answering"
	// PrereqDiscovery is SMART discovery of the token endpoint.
	PrereqDiscovery = "SMART discovery (.well-known/smart-configuration)"
	// PrereqToken is an access token for the run's client.
	PrereqToken = "an access token"
)

// Cause is a root cause: a prerequisite that failed, what went wrong in
// plain words, and what to fix.
type Cause struct {
	Prerequisite string
	What, Fix    string
}

// PrerequisiteError is an error that comes from a failed prerequisite
// rather than from what a spec checks; a spec that meets it is blocked.
type PrerequisiteError struct {
	Prerequisite string
	Reason       string
	Err          error
}

func (e *PrerequisiteError) Error() string {
	return e.Prerequisite + " failed: " + e.Reason
}

func (e *PrerequisiteError) Unwrap() error { return e.Err }

// NoteCause records a root cause, once per prerequisite (the first report
// wins).
func (e *Env) NoteCause(c Cause) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, have := range e.causes {
		if have.Prerequisite == c.Prerequisite {
			return
		}
	}
	e.causes = append(e.causes, c)
}

// Causes returns the root causes recorded so far, in the order found.
func (e *Env) Causes() []Cause {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Cause(nil), e.causes...)
}

func (e *Env) cause(prereq string) (Cause, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.causes {
		if c.Prerequisite == prereq {
			return c, true
		}
	}
	return Cause{}, false
}

// Hit records that the current spec met a failed prerequisite: when the spec
// ends, it is marked blocked by it, whether it then failed or passed (a
// check that passed because nothing answered says nothing of the target).
// It may be called from any goroutine of the spec.
func (e *Env) Hit(prereq string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hits == nil {
		e.hits = map[string]bool{}
	}
	e.hits[prereq] = true
}

// attachHits marks the spec blocked by the prerequisites it met (in the
// order of the root causes). It runs on the spec's goroutine.
func (e *Env) attachHits() {
	down := e.noteOutage()
	e.mu.Lock()
	hits, connFailed := e.hits, e.connFailed
	if down && connFailed {
		// The spec's own requests went unanswered as the target died.
		if hits == nil {
			hits = map[string]bool{}
		}
		hits[PrereqTarget] = true
	}
	e.hits, e.connFailed = nil, false
	causes := append([]Cause(nil), e.causes...)
	e.mu.Unlock()
	if len(hits) == 0 {
		if connFailed {
			// Connection failures before the target was found down: the
			// first of a streak that may end with it down. The verdict
			// decides once the run is over.
			AddReportEntry(evidence.EntryBlocked, evidence.Blocked{Prerequisite: PrereqTarget,
				Reason: "the target did not answer some of this spec's requests", IfFailed: true}, ReportEntryVisibilityNever)
		}
		return
	}
	for _, c := range causes {
		if hits[c.Prerequisite] {
			AddReportEntry(evidence.EntryBlocked, evidence.Blocked{Prerequisite: c.Prerequisite, Reason: c.What, Met: true}, ReportEntryVisibilityNever)
			return
		}
	}
	for p := range hits {
		AddReportEntry(evidence.EntryBlocked, evidence.Blocked{Prerequisite: p, Reason: p + " failed", Met: true}, ReportEntryVisibilityNever)
		return
	}
}

// BlockOnRoot blocks the spec when err comes from a failed prerequisite
// rather than from what the spec checks: the target stopped answering (now,
// or by the time the error is looked at), there was no access token or no
// token endpoint.
func (e *Env) BlockOnRoot(err error) {
	if err == nil {
		return
	}
	var pe *PrerequisiteError
	if errors.As(err, &pe) {
		Block(pe.Prerequisite, pe.Reason)
	}
	if errors.Is(err, bulk.ErrTargetDown) || bulk.ConnectionFailure(err) && e.noteOutage() {
		c, _ := e.cause(PrereqTarget)
		Block(PrereqTarget, cmp.Or(c.What, "the target stopped answering earlier in the run"))
	}
}

// WatchLiveness hooks the run's Liveness to the specs: a request refused
// because the target is down, or a connection failure, is charged to the
// spec that made it.
func (e *Env) WatchLiveness(l *bulk.Liveness) {
	e.liveness = l
	l.Refused = func() { e.Hit(PrereqTarget) }
	l.Failed = func() {
		e.mu.Lock()
		e.connFailed = true
		e.mu.Unlock()
	}
}

// noteOutage records the target's outage as a root cause once it is down,
// and reports whether it is.
func (e *Env) noteOutage() bool {
	if e.liveness == nil {
		return false
	}
	o := e.liveness.Down()
	if o == nil {
		return false
	}
	e.NoteCause(OutageCause(o))
	return true
}

// OutageCause says when and after which request the target stopped
// answering.
func OutageCause(o *bulk.Outage) Cause {
	what := fmt.Sprintf("The target stopped answering %s into the run", seconds(o.At.Sub(o.Since)))
	if o.FirstUnanswered != nil {
		what += fmt.Sprintf(": %s got no answer at %s", o.FirstUnanswered, seconds(o.FirstUnanswered.At.Sub(o.Since)))
	}
	if o.LastAnswered != nil {
		what += fmt.Sprintf(", after %s was answered at %s", o.LastAnswered, seconds(o.LastAnswered.At.Sub(o.Since)))
	} else {
		what += ", and had answered no request before"
	}
	what += fmt.Sprintf("; %d connection attempts in a row failed, and %d requests were not sent after it.", o.Failures, o.Refused)
	return Cause{
		Prerequisite: PrereqTarget,
		What:         what,
		Fix:          "Look in the server's logs for what happened at that time (the request named may have crashed it), bring it back up and run again.",
	}
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// SetTokenURL sets the token endpoint the run discovered (or was given).
func (e *Env) SetTokenURL(u string) {
	e.mu.Lock()
	e.tokenURL = u
	e.mu.Unlock()
}

// SetDiscoveryFailed records that SMART discovery failed before the run:
// specs that need the token endpoint are blocked by it.
func (e *Env) SetDiscoveryFailed(c Cause) {
	e.NoteCause(c)
	e.mu.Lock()
	e.discoveryErr = &PrerequisiteError{Prerequisite: c.Prerequisite, Reason: c.What}
	e.mu.Unlock()
}

// Operation is the export operation the run calls, as in the URL:
// "$davinci-data-export", or "$export" in a gap analysis.
func (e *Env) Operation() string {
	if e.Config == nil {
		return bulk.DefaultOperation
	}
	return e.Config.ExportOperation()
}

// PrereqOperation names the export operation as a prerequisite.
func (e *Env) PrereqOperation() string {
	return "the " + e.Operation() + " operation"
}

// OperationMissing reports whether the target lacks the run's export
// operation, judged once from the full Group export's kick-off: it was
// answered 404, 405 or 501 (no such operation, or not on Group), or 400
// while the CapabilityStatement does not declare the operation either (some
// servers answer an unknown operation with 400). A refused parameter, with
// the operation declared, is not a missing operation: the parameter's own
// spec judges it.
func (e *Env) OperationMissing(ctx context.Context) (Cause, bool) {
	if c, ok := e.cause(e.PrereqOperation()); ok {
		return c, true
	}
	x, err := e.FullExport(ctx)
	if err == nil || x == nil || x.Kickoff == nil {
		return Cause{}, false
	}
	st := x.Kickoff.StatusCode
	declared := e.Capability.DeclaresGroupOperation(e.Operation())
	if st != http.StatusNotFound && st != http.StatusMethodNotAllowed && st != http.StatusNotImplemented &&
		(st != http.StatusBadRequest || declared || e.Capability == nil) {
		return Cause{}, false
	}
	what := fmt.Sprintf("The server has no Group/[id]/%s operation: the kick-off POST %s was answered HTTP %d (%s)",
		e.Operation(), evidence.RedactURL(x.Kickoff.Request.URL.String()), st, OutcomeText(x.Kickoff.Body))
	if e.Capability != nil {
		ops := e.Capability.GroupOperations()
		if len(ops) == 0 {
			what += ", and its CapabilityStatement declares no operation on Group."
		} else if !declared {
			what += fmt.Sprintf(", and its CapabilityStatement declares on Group only: %s.", strings.Join(ops, ", "))
		} else {
			what += "."
		}
	} else {
		what += "."
	}
	fix := "Implement " + e.Operation() + " on Group (PDex Provider Access API, §pdex-338) at the base URL given."
	if e.Operation() == bulk.DefaultOperation && e.Capability.DeclaresGroupOperation("export") {
		fix += " The server declares plain Bulk Data Group/[id]/$export: run with --operation export for a gap analysis of what it lacks for PDex."
	} else if e.Operation() == bulk.DefaultOperation {
		fix += " A server that implements plain Bulk Data Group/[id]/$export can be checked for its gaps with --operation export."
	}
	c := Cause{Prerequisite: e.PrereqOperation(), What: what, Fix: fix}
	e.NoteCause(c)
	return c, true
}

// KickoffGate blocks the spec when a kick-off it sent was refused because
// the target has no export operation at all: a refusal the spec expected
// (a 404 for an unknown Group, a 4xx for a bad parameter) proves nothing
// then, and a refusal it did not expect is not the spec's finding.
func (e *Env) KickoffGate(ctx context.Context, resp *bulk.Response) {
	if resp == nil || resp.StatusCode == http.StatusAccepted || resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
		return
	}
	if c, ok := e.OperationMissing(ctx); ok {
		Block(c.Prerequisite, c.What)
	}
}
