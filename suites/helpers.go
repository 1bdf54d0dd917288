package suites

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Helpers the specs of several areas share. Each keeps an It to a few
// lines: it does one step of a scenario and fails (or skips, or blocks) the
// spec with a sentence about the server when the step goes wrong.

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// params are the edition's parameters for a kind of export plus extras.
func params(e *framework.Env, k edition.Kind, extra ...[]bulk.Param) []bulk.Param {
	ps := e.DefaultParams(k)
	for _, x := range extra {
		ps = append(ps, x...)
	}
	return ps
}

// param is one parameter.
func param(name, typ, value string) []bulk.Param {
	return []bulk.Param{{Name: name, Type: typ, Value: value}}
}

// Prerequisites, as blocked specs name them.
const (
	prereqFullExport = "the full Group export"
	prereqKickoff    = "the full Group export's kick-off"
	prereqStatus     = "the full Group export's status requests"
	prereqManifest   = "the full Group export's manifest"
	prereqGroup      = "reading the attribution Group"
)

// attachFullExport runs (once) the full Group export and attaches its
// manifest and what it produced to the spec's evidence.
func attachFullExport(ctx context.Context, e *framework.Env) (*framework.Export, error) {
	x, err := e.FullExport(ctx)
	if x != nil && x.Manifest != nil {
		AddReportEntry(evidence.EntryManifest, string(x.Manifest.Raw), ReportEntryVisibilityNever)
	}
	if x != nil && len(x.Files) > 0 {
		// What the full export produced, for the reports' "resources
		// exported per type": lines downloaded per type, as the files hold
		// them.
		sum := evidence.ExportSummary{Resources: map[string]int{}, Files: len(x.Files)}
		for _, f := range x.Files {
			sum.Resources[f.Ref.Type] += f.Lines
			sum.Bytes += f.Bytes
		}
		AddReportEntry(evidence.EntryExport, sum, ReportEntryVisibilityNever)
	}
	return x, err
}

// fullExport returns the completed full Group export. When it did not
// complete the spec is blocked: the Full export specs, each judging one
// stage of the flow, report why (or the root cause does: the target
// stopped answering, no token, no export operation).
func fullExport(ctx context.Context, e *framework.Env) *framework.Export {
	x, err := attachFullExport(ctx, e)
	if err != nil {
		blockOnRoot(ctx, e, err)
		framework.Block(prereqFullExport, err.Error())
	}
	return x
}

// blockOnRoot blocks the spec when the full export failed for a root cause
// rather than at one of its own stages.
func blockOnRoot(ctx context.Context, e *framework.Env, err error) {
	e.BlockOnRoot(err)
	if c, ok := e.OperationMissing(ctx); ok {
		framework.Block(c.Prerequisite, c.What)
	}
}

// stage is a step of the Bulk Data flow, in order.
type stage int

const (
	atKickoff stage = iota
	atStatus
	atManifest
	atFiles
)

// fullExportAt returns the full Group export as far as it got, with the
// error that stopped it, for a spec that judges one stage of the flow: the
// spec is blocked when the export stopped before that stage (an earlier
// stage's spec reports it), and judges its stage otherwise. The kick-off's
// spec reports a missing export operation; every later stage is blocked by
// it.
func fullExportAt(ctx context.Context, e *framework.Env, at stage) (*framework.Export, error) {
	x, err := attachFullExport(ctx, e)
	if err == nil {
		return x, nil
	}
	e.BlockOnRoot(err)
	if at > atKickoff {
		if c, ok := e.OperationMissing(ctx); ok {
			framework.Block(c.Prerequisite, c.What)
		}
	}
	switch {
	case at > atKickoff && (x == nil || x.StatusURL == ""):
		framework.Block(prereqKickoff, err.Error())
	case at > atStatus && (x.Final == nil || x.Final.StatusCode != http.StatusOK):
		framework.Block(prereqStatus, err.Error())
	case at > atManifest && x.Manifest == nil:
		framework.Block(prereqManifest, err.Error())
	}
	return x, err
}

// blockIfFlowBroken blocks the spec when the full Group export itself did
// not complete: a scenario's export (or kick-off) that failed then says
// nothing of the scenario, only that the basic flow is broken, which the
// Full export specs report (or a root cause does).
func blockIfFlowBroken(ctx context.Context, e *framework.Env) {
	if _, err := e.FullExport(ctx); err != nil {
		blockOnRoot(ctx, e, err)
		framework.Block(prereqFullExport, err.Error())
	}
}

// export runs an export for a spec and fails the spec if it does not
// complete (or blocks it, when the full export failed too).
func export(ctx context.Context, e *framework.Env, r framework.ExportRequest) *framework.Export {
	x, err := e.RunExport(ctx, r)
	if err != nil {
		e.BlockOnRoot(err)
		blockIfFlowBroken(ctx, e)
		framework.Failf("The export of this scenario did not complete: %s", framework.Explain(err))
	}
	return x
}

// accepted fails the spec unless the kick-off was accepted (202), blocking
// it instead when the full export's own kick-off failed too.
func accepted(ctx context.Context, e *framework.Env, resp *bulk.Response, what string) {
	if resp.StatusCode == http.StatusAccepted {
		return
	}
	e.KickoffGate(ctx, resp)
	blockIfFlowBroken(ctx, e)
	framework.Failf("The server answered %s with HTTP %d, not 202 Accepted: %s", what, resp.StatusCode, framework.OutcomeText(resp.Body))
}

// members returns the attribution Group's members, blocking the spec when
// the Group cannot be read (the Group specs report why).
func members(ctx context.Context, e *framework.Env) []string {
	m, err := e.Members(ctx)
	if err != nil {
		e.BlockOnRoot(err)
		framework.Block(prereqGroup, err.Error())
	}
	return m
}

// subset returns the members for subset scenarios, skipping the spec when
// there are none.
func subset(ctx context.Context, e *framework.Env) []string {
	m, err := e.Subset(ctx)
	if err != nil {
		e.BlockOnRoot(err)
		Skip("no members to export: set members in the configuration (" + err.Error() + ")")
	}
	return m
}

// refused sends a kick-off and expects 400 with an OperationOutcome.
func refused(ctx context.Context, e *framework.Env, ps []bulk.Param, why string) {
	resp, err := e.Attempt(ctx, framework.ExportRequest{Params: ps})
	what := kickoffPhrase(why)
	framework.NoError(err, "Sending "+what)
	if resp.StatusCode != http.StatusBadRequest {
		framework.Failf("The server answered HTTP %d to %s; it must refuse it with 400 and an OperationOutcome: %s",
			resp.StatusCode, what, framework.OutcomeText(resp.Body))
	}
	if !framework.IsOperationOutcome(resp.Body) {
		framework.Failf("The server refused %s with 400 as it must, but without an OperationOutcome: %s", what, framework.OutcomeText(resp.Body))
	}
}

// kickoffPhrase names a kick-off for a sentence: "a kick-off without
// exportType" stays, "exportMode stream" becomes "a kick-off with exportMode
// stream".
func kickoffPhrase(why string) string {
	if strings.HasPrefix(why, "a ") || strings.HasPrefix(why, "an ") {
		return why
	}
	return "a kick-off with " + why
}

func without(ps []bulk.Param, name string) []bulk.Param {
	var out []bulk.Param
	for _, p := range ps {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return out
}

func with(ps []bulk.Param, name, value string) []bulk.Param {
	out := without(ps, name)
	for _, p := range ps {
		if p.Name == name {
			p.Value = value
			out = append(out, p)
		}
	}
	return out
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func first(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// canonicalBase drops the |version of a canonical reference.
func canonicalBase(c string) string {
	base, _, _ := strings.Cut(c, "|")
	return base
}

func isAbsoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Host != ""
}
