// Package framework is what the suites stand on: the run's environment
// (configuration, the authorized Bulk Data client, validators), helpers that
// keep specs short, and the way specs name the requirements they test.
package framework

import (
	"fmt"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/compartment"
)

// Validator checks one exported resource; the runner supplies it (structure
// plus profiles when packages are loaded). It must be safe for concurrent
// use.
type Validator interface {
	// Validate returns the issues of one resource; resourceType is what it
	// is expected to be (its file's type), used when it does not say.
	Validate(resourceType string, raw []byte) []validators.Issue
	// ProfilesLoaded reports whether profile validation runs; when false,
	// profile specs are skipped, never passed.
	ProfilesLoaded() (bool, string)
}

// Env is one run's environment, shared by every spec.
type Env struct {
	Config *config.Config
	// Edition is the PDex edition the run holds the target to.
	Edition *edition.Edition
	// HTTP is the transport (timeouts, TLS) for every request.
	HTTP *http.Client
	// NewAuthorizer returns a fresh authorizer for the configured client
	// (nil when auth mode is none).
	Authorizer bulk.Authorizer
	// Check, when set, checks exchanges against the OpenAPI description.
	Check func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string
	// CheckHead checks streamed downloads' status and headers.
	CheckHead func(req *http.Request, resp *http.Response) []string
	// Validator checks exported resources.
	Validator Validator
	// Compartment places exported resources in patients' compartments by
	// the official R4 Patient CompartmentDefinition; nil when the FHIR
	// packages do not hold it, and CompartmentWhy then says why. The
	// harness has no compartment rule of its own.
	Compartment    *compartment.Definition
	CompartmentWhy string
	// WorkDir holds downloaded files for the run.
	WorkDir string
	// Progress reports long work to the console.
	Progress func(format string, args ...any)
	// Capability is the target's CapabilityStatement, read before the run
	// (nil when it could not be read).
	Capability *Capability
	// Disk counts the bytes downloaded files hold in WorkDir; nil counts
	// nothing (files are still released).
	Disk *bulk.Disk
	// Strangers are the keys no server has registered (keys.Strangers:
	// nil makes a fresh one each time).
	Strangers *keys.Strangers

	mu           sync.Mutex
	causes       []Cause
	hits         map[string]bool
	connFailed   bool
	discoveryErr error
	liveness     *bulk.Liveness
	exchanges    []evidence.Exchange
	dropped      int
	full         *Export
	fullErr      error
	fullDone     bool
	fullSpan     Span
	members      []string
	tokenURL     string
	api          apiMismatches
	// specExports are the exports made by the current spec, released when
	// it ends.
	specExports []*Export
}

// Client returns a Bulk Data client that records its exchanges as the
// current spec's evidence.
func (e *Env) Client() *bulk.Client {
	return &bulk.Client{
		Base:           e.Config.Target,
		HTTP:           e.HTTP,
		Auth:           e.Authorizer,
		Record:         e.record,
		Check:          e.Check,
		CheckHead:      e.CheckHead,
		Progress:       e.Progress,
		RequestTimeout: e.Config.Timeouts.Request.Duration,
		Operation:      e.Operation(),
	}
}

// AnonymousClient sends no token.
func (e *Env) AnonymousClient() *bulk.Client {
	c := e.Client()
	c.Auth = nil
	return c
}

// record keeps an exchange as the current spec's evidence: the first
// maxExchangesPerSpec/2 and the latest maxExchangesPerSpec/2, so that a
// target that answers 202 forever cannot grow memory or a report without
// end.
// Record keeps an exchange made outside Client (the token source's) as the
// current spec's evidence.
func (e *Env) Record(ex evidence.Exchange) { e.record(ex) }

func (e *Env) record(ex evidence.Exchange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.exchanges) == maxExchangesPerSpec {
		copy(e.exchanges[maxExchangesPerSpec/2:], e.exchanges[maxExchangesPerSpec/2+1:])
		e.exchanges = e.exchanges[:maxExchangesPerSpec-1]
		e.dropped++
	}
	e.exchanges = append(e.exchanges, ex)
	e.api.add(ex.Conformance)
}

// maxExchangesPerSpec bounds the evidence one spec keeps.
const maxExchangesPerSpec = 200

// flush attaches the exchanges recorded during a spec to its report. It runs
// on the spec's goroutine (AddReportEntry must), while the recording may
// happen on download goroutines.
func (e *Env) flush() {
	e.mu.Lock()
	exs, dropped := e.exchanges, e.dropped
	e.exchanges, e.dropped = nil, 0
	e.mu.Unlock()
	if dropped > 0 {
		AddReportEntry("note", fmt.Sprintf("%d exchanges left out of the evidence (the first %d and the last %d are kept)",
			dropped, maxExchangesPerSpec/2, maxExchangesPerSpec/2))
	}
	for _, ex := range exs {
		AddReportEntry(evidence.EntryExchange, ex, ReportEntryVisibilityNever)
	}
	e.attachHits()
}

// Install registers the hooks every spec needs. Call it once in Register.
func (e *Env) Install() {
	JustAfterEach(func() { e.flush() })
	// After the spec's own cleanup, which may still read its export.
	AfterEach(func() { e.release() })
}

// Req returns the labels of a spec that tests the given requirements: their
// IDs and the strongest level among them in the run's edition. An unknown
// ID, or one the edition does not have, is a programming error and panics
// at registration, before any spec runs (register such specs only when
// Applies says so).
func (e *Env) Req(ids ...string) Labels {
	labels := Labels{}
	level := catalog.MAY
	for _, id := range ids {
		base, ok := catalog.Lookup(id)
		if !ok {
			panic(fmt.Sprintf("framework.Req: unknown requirement %s", id))
		}
		r, ok := base.For(e.edition())
		if !ok {
			panic(fmt.Sprintf("framework.Req: requirement %s does not apply in edition %s", id, e.edition()))
		}
		labels = append(labels, id)
		if r.Level == catalog.SHALL || (r.Level == catalog.SHOULD && level == catalog.MAY) {
			level = r.Level
		}
	}
	return append(labels, string(level))
}

// Applies reports whether every one of the requirements holds in the run's
// edition: specs of requirements an edition removed are not registered (the
// reports show the requirement as not applicable).
func (e *Env) Applies(ids ...string) bool {
	for _, id := range ids {
		r, ok := catalog.Lookup(id)
		if !ok {
			panic(fmt.Sprintf("framework.Applies: unknown requirement %s", id))
		}
		if !r.AppliesTo(e.edition()) {
			return false
		}
	}
	return true
}

func (e *Env) edition() string {
	if e.Edition != nil {
		return e.Edition.Name
	}
	if e.Config != nil && e.Config.Edition != "" {
		return e.Config.Edition
	}
	return edition.Default
}

// Block ends the current spec as blocked: it could not run because a
// prerequisite (named in plain words, e.g. "the full Group export") failed
// for the reason given. A blocked spec is neither passed nor failed; the
// spec that owns the prerequisite reports its failure.
func Block(prerequisite, reason string) {
	AddReportEntry(evidence.EntryBlocked, evidence.Blocked{Prerequisite: prerequisite, Reason: reason}, ReportEntryVisibilityNever)
	Skip("blocked by " + prerequisite + ": " + reason)
}
