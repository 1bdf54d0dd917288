package framework

import (
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
	"sync/atomic"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/ndjson"
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
	// Keep keeps the files on disk after the spec that made the export
	// ends, for an export a later spec reads too.
	Keep bool
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
	released          atomic.Bool

	validateOnce sync.Once
	validation   *Validation
}

// Resource is what the index keeps of one exported line.
type Resource struct {
	Type, ID string
	// Patients are the patients whose compartments hold the resource, by
	// the official R4 Patient CompartmentDefinition (Env.Compartment);
	// empty for a resource in no patient's compartment, and for every
	// resource when the definition is not loaded.
	Patients    []string
	LastUpdated time.Time
	File        string
	Line        int
	// FileType is the type its manifest entry declared.
	FileType string
	// Offset and Size place the line in its downloaded file, so that a
	// spec can read the resources it needs (Export.Read) without reading
	// the files again.
	Offset int64
	Size   int

	path string // the downloaded file
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
// when a step fails. Each exchange is bounded by timeouts.request, and a
// download by timeouts.request without a byte; the export as a whole by
// timeouts.export without progress (see PollOptions), or not at all when it
// is unlimited: the console then hears how far it has got.
//
// The files of an export made during a spec are released (removed from
// disk) when the spec ends, unless the request says Keep; the full export's
// stay for the whole run.
func (e *Env) RunExport(ctx context.Context, r ExportRequest) (*Export, error) {
	if r.Group == "" {
		r.Group = e.Config.Group
	}
	if r.Params == nil {
		r.Params = e.DefaultParams(edition.Snapshot)
	}
	c := e.Client()
	x := &Export{Started: time.Now()}
	if !r.Keep {
		e.releaseAfterSpec(x)
	}
	limit := e.Config.Timeouts.Export
	e.progress("kick-off: %s Group/%s/%s", methodOr(r.Method), r.Group, e.Operation())
	resp, err := c.StartExport(ctx, bulk.Kickoff{Group: r.Group, Method: r.Method, Params: r.Params, Prefer: r.Prefer, RetryUntil: e.retryUntil()})
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
	final, pending, err := c.Poll(ctx, loc, e.PollOptions())
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
	opts := bulk.DownloadOptions{Dir: e.WorkDir, WithToken: withToken, Idle: e.Config.Timeouts.Request.Duration, Disk: e.Disk}
	// Each output file is indexed (and, when asked, validated) as soon as
	// it is on disk, while the others still download.
	p := e.newPipeline(ctx, true, r.Validate)
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
	if err := ctx.Err(); err != nil {
		return x, fmt.Errorf("reading the files: %w", context.Cause(ctx))
	}
	if err := p.indexInto(x); err != nil {
		return x, err
	}
	if r.Validate {
		x.validateOnce.Do(func() { x.validation = p.validation(x) })
	}
	e.progress("export complete: %d files, %d resources in %s", len(x.Files), len(x.Resources), time.Since(x.Started).Round(100*time.Millisecond))
	return x, nil
}

// PollOptions are the bounds of polling an export's status under the run's
// timeouts.export: no bound when it is unlimited, otherwise the longest
// time without progress.
func (e *Env) PollOptions() bulk.PollOptions {
	limit := e.Config.Timeouts.Export
	if limit.Unlimited {
		return bulk.PollOptions{Stall: -1}
	}
	return bulk.PollOptions{Stall: limit.Duration}
}

// retryUntil is how long a kick-off answered 429 (too many exports) is
// tried again: timeouts.export, or for as long as it takes when unlimited.
func (e *Env) retryUntil() time.Time {
	limit := e.Config.Timeouts.Export
	if limit.Unlimited {
		return time.Now().AddDate(100, 0, 0)
	}
	return time.Now().Add(limit.Duration)
}

// releaseAfterSpec has an export's files removed from disk when the spec
// that made it ends: no later spec reads them.
func (e *Env) releaseAfterSpec(x *Export) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.specExports = append(e.specExports, x)
}

// release removes the files of the exports the spec made.
func (e *Env) release() {
	e.mu.Lock()
	xs := e.specExports
	e.specExports = nil
	e.mu.Unlock()
	for _, x := range xs {
		x.Release(e.Disk)
	}
}

// Release removes the export's downloaded files from disk (counting them
// off disk); the index stays, but EachResource and Read fail afterwards.
func (x *Export) Release(disk *bulk.Disk) error {
	x.released.Store(true)
	return disk.Release(append(slices.Clone(x.Files), x.ErrFiles...)...)
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

// EachLine calls fn for every non-empty line of an NDJSON file, with its
// number (from 1). Each line is a fresh slice fn may keep.
func EachLine(path string, fn func(n int, line []byte) error) error {
	return eachLineAt(path, func(n int, _ int64, line []byte) error { return fn(n, line) })
}

// eachLineAt is EachLine with each line's byte offset in the file. A line
// longer than ndjson.DefaultMaxLine is skipped without being held, and
// reported once the rest of the file has been read.
func eachLineAt(path string, fn func(n int, offset int64, line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := ndjson.NewReader(f, 0)
	var tooLong error
	for {
		n, line, err := r.Next()
		var long *ndjson.LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return tooLong
		case errors.As(err, &long):
			if tooLong == nil {
				tooLong = err
			}
			continue
		case err != nil:
			return err
		}
		if err := fn(n, r.Offset(), bytes.Clone(line)); err != nil {
			return err
		}
	}
}

// ErrReleased is reading an export whose files were released (removed
// from disk when the spec that made it ended).
var ErrReleased = errors.New("the export's files were released when the spec that made it ended")

// Read returns the line of an indexed resource, read from its place in
// the downloaded file: a spec that needs some resources of a large export
// reads just those.
func (x *Export) Read(r Resource) ([]byte, error) {
	if x.released.Load() {
		return nil, ErrReleased
	}
	if r.path == "" {
		return nil, fmt.Errorf("%s/%s is not in the export's index", r.Type, r.ID)
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, r.Size)
	if _, err := f.ReadAt(buf, r.Offset); err != nil {
		return nil, fmt.Errorf("reading %s/%s (line %d of %s): %w", r.Type, r.ID, r.Line, r.File, err)
	}
	return buf, nil
}

// Keys returns the set of the keys ("Type/id") of the resources that
// satisfy keep (every resource when keep is nil): the form Compare takes.
// It takes time linear in the export; nothing is sorted.
func (x *Export) Keys(keep func(Resource) bool) map[string]bool {
	if keep == nil {
		out := make(map[string]bool, len(x.Resources))
		for k := range x.Resources {
			out[k] = true
		}
		return out
	}
	// The keys are gathered first so that the set is made at its size at
	// once, without growing (and rehashing) on the way.
	var kept []string
	for k, r := range x.Resources {
		if keep(r) {
			kept = append(kept, k)
		}
	}
	out := make(map[string]bool, len(kept))
	for _, k := range kept {
		out[k] = true
	}
	return out
}

// PatientSet returns the set of the output's compartment owners.
func (x *Export) PatientSet() map[string]bool {
	out := make(map[string]bool)
	for _, r := range x.Resources {
		for _, p := range r.Patients {
			out[p] = true
		}
	}
	return out
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
		for _, p := range r.Patients {
			seen[p] = true
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Select returns the keys of resources that satisfy keep, in no particular
// order: an export may hold hundreds of thousands, and nothing here sorts
// them. To compare two exports, use Keys and Compare.
func (x *Export) Select(keep func(Resource) bool) []string {
	var out []string
	for k, r := range x.Resources {
		if keep(r) {
			out = append(out, k)
		}
	}
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
		start := time.Now()
		x, err := e.RunExport(ctx, ExportRequest{Keep: true, Validate: e.willRun("PA-EXP-05") || e.willRun("PA-PROF-01")})
		e.mu.Lock()
		e.full, e.fullErr, e.fullDone = x, err, true
		e.fullSpan = Span{Start: start, End: time.Now()}
		e.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fullErr != nil {
		return e.full, fmt.Errorf("the full export failed: %w", e.fullErr)
	}
	return e.full, nil
}

// Span is a stretch of the run's time.
type Span struct{ Start, End time.Time }

// FullExportSpan is when the shared full export ran (kick-off to the last
// file indexed and validated), and how many resources it gave; ok is false
// when no spec asked for it. The spec that asks first pays for it; a
// benchmark that times areas gives it a line of its own.
func (e *Env) FullExportSpan() (span Span, resources int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.fullDone {
		return Span{}, 0, false
	}
	if e.full != nil {
		resources = len(e.full.Resources)
	}
	return e.fullSpan, resources, true
}

// EachResource calls fn for every line of the output files of a type ("" for
// every type).
func (x *Export) EachResource(typ string, fn func(raw []byte) error) error {
	if x.released.Load() {
		return ErrReleased
	}
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

// EachDecoded calls fn for every line of the output files of a type (""
// for every type) with the line decoded into a T, so that a spec that needs
// a resource's fields and its raw line parses it once. A line that is not
// JSON of T's shape ends the walk with an error naming it.
func EachDecoded[T any](x *Export, typ string, fn func(v T, raw []byte) error) error {
	if x.released.Load() {
		return ErrReleased
	}
	for _, f := range x.Files {
		if typ != "" && f.Ref.Type != typ {
			continue
		}
		err := EachLine(f.Path, func(n int, line []byte) error {
			var v T
			if err := json.Unmarshal(line, &v); err != nil {
				return fmt.Errorf("%s file %s line %d: %w", f.Ref.Type, f.Ref.URL, n, err)
			}
			return fn(v, line)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// EachError calls fn for every line of the error files.
func (x *Export) EachError(fn func(raw []byte) error) error {
	if x.released.Load() {
		return ErrReleased
	}
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
