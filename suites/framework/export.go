package framework

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
)

// ExportRequest describes a kick-off; zero fields take the run's defaults.
type ExportRequest struct {
	Group  string
	Method string
	// Params are sent as they are; nil means DefaultParams(edition.Snapshot).
	Params []bulk.Param
	Prefer string
	// Validate validates every output line as its file downloads, so that
	// Env.Validate has the result at once.
	Validate bool
}

// Export is what one export produced.
type Export struct {
	Kickoff   *bulk.Response
	StatusURL string
	Started   time.Time
	Completed time.Time
	Pending   []*bulk.Response
	Final     *bulk.Response
	Manifest  *bulk.Manifest
	Files     []bulk.File // output files
	ErrFiles  []bulk.File // error files
	// Resources indexes every output line by "Type/id".
	Resources map[string]Resource
	// LineErrors lists lines that are not JSON resources.
	LineErrors []string

	lineErrorsDropped int

	validateOnce sync.Once
	validation   *Validation
}

// Resource is what the index keeps of one exported line.
type Resource struct {
	Type, ID, Patient string
	LastUpdated       time.Time
	File              string
	Line              int
	// FileType is the type its manifest entry declared.
	FileType string
}

// Key is the index key of a resource.
func Key(typ, id string) string { return typ + "/" + id }

// DefaultParams are the parameters the edition sends on a kick-off of
// kind k (exportType, and exportMode in 2.0.0).
func (e *Env) DefaultParams(k edition.Kind) []bulk.Param {
	if e.Config != nil && e.Config.GapAnalysis() {
		// Plain Bulk Data $export knows neither exportType nor exportMode.
		return nil
	}
	var out []bulk.Param
	for _, p := range e.Edition.Params(k) {
		out = append(out, bulk.Param{Name: p.Name, Type: p.Type, Value: p.Value})
	}
	return out
}

// PatientParams names members with patient parameters.
func PatientParams(ids ...string) []bulk.Param {
	var out []bulk.Param
	for _, id := range ids {
		out = append(out, bulk.Param{Name: "patient", Type: "valueReference", Value: "Patient/" + id})
	}
	return out
}

// KickoffError is an export that did not get as far as a manifest.
type KickoffError struct {
	Stage  string // kick-off, status
	Status int
	Detail string
}

func (e *KickoffError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d: %s", e.Stage, e.Status, e.Detail)
}

// RunExport kicks off an export, polls it to completion, downloads every
// file and indexes the output. It returns what it got so far with an error
// when a step fails. The whole of it, kick-off to last file, is bounded by
// timeouts.export; each exchange by timeouts.request, and a download by
// timeouts.request without a byte.
func (e *Env) RunExport(ctx context.Context, r ExportRequest) (*Export, error) {
	if r.Group == "" {
		r.Group = e.Config.Group
	}
	if r.Params == nil {
		r.Params = e.DefaultParams(edition.Snapshot)
	}
	c := e.Client()
	x := &Export{Started: time.Now()}
	limit := e.Config.Timeouts.Export.Duration
	deadline := x.Started.Add(limit)
	ctx, cancel := context.WithDeadlineCause(ctx, deadline,
		fmt.Errorf("%w (timeouts.export %s)", bulk.ErrPollTimeout, limit))
	defer cancel()
	e.progress("kick-off: %s Group/%s/%s", methodOr(r.Method), r.Group, e.Operation())
	resp, err := c.StartExport(ctx, bulk.Kickoff{Group: r.Group, Method: r.Method, Params: r.Params, Prefer: r.Prefer, RetryUntil: deadline})
	if err != nil {
		return x, fmt.Errorf("kick-off: %w", err)
	}
	x.Kickoff = resp
	if resp.StatusCode != http.StatusAccepted {
		return x, &KickoffError{Stage: "kick-off", Status: resp.StatusCode, Detail: OutcomeText(resp.Body)}
	}
	loc := resp.Header.Get("Content-Location")
	if loc == "" {
		return x, errors.New("the kick-off answered 202 without Content-Location")
	}
	x.StatusURL = loc
	final, pending, err := c.Poll(ctx, loc, bulk.PollOptions{Deadline: deadline})
	x.Pending, x.Final = pending, final
	if err != nil {
		return x, fmt.Errorf("polling %s (timeouts.export %s): %w", loc, limit, err)
	}
	if final.StatusCode != http.StatusOK {
		return x, &KickoffError{Stage: "status", Status: final.StatusCode, Detail: OutcomeText(final.Body)}
	}
	x.Completed = time.Now()
	m, err := bulk.ParseManifest(final.Body)
	if err != nil {
		return x, err
	}
	x.Manifest = m
	withToken := m.RequiresAccessToken != nil && *m.RequiresAccessToken
	opts := bulk.DownloadOptions{Dir: e.WorkDir, WithToken: withToken, Idle: e.Config.Timeouts.Request.Duration}
	// Each output file is indexed (and, when asked, validated) as soon as
	// it is on disk, while the others still download.
	p := e.newPipeline(true, r.Validate)
	outOpts := opts
	outOpts.OnFile = p.add
	x.Files = c.DownloadAll(ctx, resolveRefs(loc, m.Output), outOpts)
	x.ErrFiles = c.DownloadAll(ctx, resolveRefs(loc, m.Error), opts)
	p.wait()
	var failed []error
	for _, f := range append(slices.Clone(x.Files), x.ErrFiles...) {
		if f.Err != nil {
			failed = append(failed, fmt.Errorf("downloading %s file %s: %w", f.Ref.Type, f.Ref.URL, f.Err))
		}
	}
	if len(failed) > 0 {
		if len(failed) > 3 {
			failed = append(failed[:3], fmt.Errorf("and %d more files failed", len(failed)-3))
		}
		return x, errors.Join(failed...)
	}
	if err := p.indexInto(x); err != nil {
		return x, err
	}
	if r.Validate {
		x.validateOnce.Do(func() { x.validation = p.validation(x) })
	}
	e.progress("export complete: %d files, %d resources", len(x.Files), len(x.Resources))
	return x, nil
}

func methodOr(m string) string {
	if m == "" {
		return "POST"
	}
	return m
}

func (e *Env) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(format, args...)
	}
}

// resolveRefs makes relative file URLs absolute against the status URL, so
// that a server giving relative URLs can still be downloaded (a separate
// spec fails it for that).
func resolveRefs(base string, refs []bulk.ManifestRef) []bulk.ManifestRef {
	b, err := url.Parse(base)
	if err != nil {
		return refs
	}
	out := make([]bulk.ManifestRef, len(refs))
	for i, r := range refs {
		out[i] = r
		if u, err := url.Parse(r.URL); err == nil && !u.IsAbs() {
			out[i].URL = b.ResolveReference(u).String()
		}
	}
	return out
}

// maxLineErrors bounds the line errors an export keeps: a file of garbage
// may have millions.
const maxLineErrors = 100

func (x *Export) lineError(msg string) {
	if len(x.LineErrors) < maxLineErrors {
		x.LineErrors = append(x.LineErrors, msg)
	} else {
		x.lineErrorsDropped++
	}
}

// EachLine calls fn for every non-empty line of an NDJSON file.
func EachLine(path string, fn func(n int, line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(n, line); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Types lists the resource types in the output, sorted.
func (x *Export) Types() []string {
	seen := map[string]bool{}
	for _, r := range x.Resources {
		seen[r.Type] = true
	}
	var out []string
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Patients lists the compartment owners of the output, sorted.
func (x *Export) Patients() []string {
	seen := map[string]bool{}
	for _, r := range x.Resources {
		if r.Patient != "" {
			seen[r.Patient] = true
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Select returns the keys of resources that satisfy keep, sorted.
func (x *Export) Select(keep func(Resource) bool) []string {
	var out []string
	for k, r := range x.Resources {
		if keep(r) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// OutcomeText extracts the diagnostics of an OperationOutcome body, or the
// start of the body when it is something else.
func OutcomeText(body []byte) string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity    string `json:"severity"`
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) == nil && oo.ResourceType == "OperationOutcome" {
		var parts []string
		for _, i := range oo.Issue {
			t := i.Diagnostics
			if t == "" {
				t = i.Details.Text
			}
			parts = append(parts, fmt.Sprintf("%s %s: %s", i.Severity, i.Code, t))
		}
		return strings.Join(parts, "; ")
	}
	s := strings.ToValidUTF8(string(body), "?")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…" // not mid-rune
	}
	if s == "" {
		return "(empty body)"
	}
	return "not an OperationOutcome: " + s
}

// IsOperationOutcome reports whether a body is an OperationOutcome.
func IsOperationOutcome(body []byte) bool {
	var oo struct {
		ResourceType string `json:"resourceType"`
	}
	return json.Unmarshal(body, &oo) == nil && oo.ResourceType == "OperationOutcome"
}

// FullExport runs, once per run, a snapshot export of the whole Group that
// several scenarios compare against. Later callers get the same result.
func (e *Env) FullExport(ctx context.Context) (*Export, error) {
	e.mu.Lock()
	done := e.fullDone
	e.mu.Unlock()
	if !done {
		// Validated while downloading when a spec that validates it will
		// run: validation is most of the cost of a large export.
		x, err := e.RunExport(ctx, ExportRequest{Validate: e.willRun("PA-EXP-05") || e.willRun("PA-PROF-01")})
		e.mu.Lock()
		e.full, e.fullErr, e.fullDone = x, err, true
		e.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fullErr != nil {
		return e.full, fmt.Errorf("the full export failed: %w", e.fullErr)
	}
	return e.full, nil
}

// EachResource calls fn for every line of the output files of a type ("" for
// every type).
func (x *Export) EachResource(typ string, fn func(raw []byte) error) error {
	for _, f := range x.Files {
		if typ != "" && f.Ref.Type != typ {
			continue
		}
		if err := EachLine(f.Path, func(_ int, line []byte) error { return fn(line) }); err != nil {
			return err
		}
	}
	return nil
}

// EachError calls fn for every line of the error files.
func (x *Export) EachError(fn func(raw []byte) error) error {
	for _, f := range x.ErrFiles {
		if err := EachLine(f.Path, func(_ int, line []byte) error { return fn(line) }); err != nil {
			return err
		}
	}
	return nil
}

// Attempt sends a kick-off that a spec expects to be refused, and cancels
// the job if the server accepts it anyway, so that stray jobs never count
// against the client's concurrent-export limit. A refusal because the
// target has no export operation at all blocks the spec (KickoffGate).
func (e *Env) Attempt(ctx context.Context, r ExportRequest) (*bulk.Response, error) {
	if r.Group == "" {
		r.Group = e.Config.Group
	}
	c := e.Client()
	// A 429 (too many exports at once: earlier accepted attempts may still
	// run) is waited out for up to one request timeout.
	resp, err := c.StartExport(ctx, bulk.Kickoff{Group: r.Group, Method: r.Method, Params: r.Params, Prefer: r.Prefer,
		RetryUntil: time.Now().Add(e.Config.Timeouts.Request.Duration)})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusAccepted {
		if loc := resp.Header.Get("Content-Location"); loc != "" {
			c.Delete(ctx, loc)
		}
	}
	e.KickoffGate(ctx, resp)
	return resp, nil
}
