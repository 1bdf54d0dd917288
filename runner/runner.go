// Package runner runs the conformance suites from inside the binary against
// one target: it completes the configuration, starts the reference server
// when asked to, builds the authorized client and the validators, and runs
// the Ginkgo specs, returning their report.
package runner

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/extensions/globals"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/suites"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators/openapi"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// Options adjust a run beyond its configuration.
type Options struct {
	// Progress hears of long work; nil is quiet.
	Progress func(format string, args ...any)
	// Verbose lets Ginkgo print every spec; otherwise it prints succinctly.
	Verbose bool
	// NoColor turns off Ginkgo's colours (off the terminal).
	NoColor bool
	// Packages are FHIR package paths for profile validation.
	Packages []string
	// Registry, when set, is used instead of loading packages (tests share
	// one across runs).
	Registry *packages.Registry
	// ReferenceEdition, when set, serves the reference server in this
	// edition whatever the run's edition: a server of one edition tested
	// against another's suite (the runner's own tests).
	ReferenceEdition string
	// ReferenceTemplate, when set, is a database made by reference.Prepare
	// for the run's edition and variants, that the reference server starts
	// from instead of loading its data set (the fault tables run hundreds
	// of servers over the same data).
	ReferenceTemplate string
	// Strangers, when set, keeps the unregistered keys the authorization
	// specs sign with across runs; nil makes them afresh.
	Strangers *keys.Strangers
}

// Result is a finished, judged run.
type Result struct {
	Config *config.Config
	// Report is Ginkgo's report: every spec's evidence.
	Report types.Report
	// Outcome is the judgement: each spec's and requirement's state, the
	// verdict and the exit code.
	Outcome  *verdict.Outcome
	Started  time.Time
	Duration time.Duration
	// Capability is the target's CapabilityStatement as read before the
	// run; nil when it answered none.
	Capability *framework.Capability
	// Packages are the FHIR packages profile validation read; Missing the
	// ones the edition or those packages need that were not found, and
	// PackagesNote why none was read, when none was.
	Packages     []packages.Info
	Missing      []string
	PackagesNote string
	// Downloads is what the exports' files held on disk: at the most, and
	// downloaded in all. Each export's files are removed as soon as no spec
	// needs them; what is left goes with the run's work folder.
	Downloads bulk.DiskUsage
	// FullExport is when the full Group export, which many specs share,
	// ran, and how many resources it gave (zero span when none ran).
	FullExport          framework.Span
	FullExportResources int
	// EditionWhy says how the run chose its edition; EditionMismatch, when
	// set, that the target declares another one.
	EditionWhy, EditionMismatch string
}

// specOrderSeed fixes the order in which the areas run.
const specOrderSeed = 1

// Run runs the suites against cfg.Target. The error is for a run that could
// not take place: bad configuration (a *ConfigError for the tester's own
// setup: keys, credentials, trust), an unreachable target (an
// *UnreachableError), no reference server. Failing specs are in the report.
func Run(ctx context.Context, cfg *config.Config, o Options) (*Result, error) {
	cfg.ApplyEnv(os.Getenv)
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.LabelFilter != "" {
		if _, err := types.ParseLabelFilter(cfg.LabelFilter); err != nil {
			return nil, fmt.Errorf("label filter %q: %v", cfg.LabelFilter, err)
		}
	}
	work, err := os.MkdirTemp("", "pdex-conform-run-")
	if err != nil {
		return nil, fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(work)

	if cfg.Target == "reference" {
		// --edition auto serves the reference server's default edition and
		// reads it back from its CapabilityStatement, as from any target.
		served := o.ReferenceEdition
		if served == "" && cfg.Edition != edition.Auto {
			served = cfg.Edition
		}
		srv, err := reference.Listen(ctx, "127.0.0.1:0", reference.Options{
			DB:        work + "/reference.db",
			Template:  o.ReferenceTemplate,
			Edition:   served,
			Faults:    cfg.Faults,
			Variants:  cfg.Variants,
			Operation: cfg.Operation,
		})
		if err != nil {
			return nil, fmt.Errorf("starting the reference server: %w", err)
		}
		defer srv.Close()
		facts, err := srv.Facts(ctx)
		if err != nil {
			return nil, fmt.Errorf("configuring the run against the reference server: %w", err)
		}
		mergeReference(cfg, ReferenceConfig(facts))
		if o.Progress != nil {
			o.Progress("reference server listening at %s", srv.URL)
		}
	}
	if err := checkKeys(cfg); err != nil {
		return nil, err
	}

	hc, live, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	cs, err := reach(ctx, &bulk.Client{Base: cfg.Target, HTTP: hc, RequestTimeout: cfg.Timeouts.Request.Duration}, cfg.Target)
	if err != nil {
		return nil, err
	}
	choice, err := chooseEdition(cfg, cs)
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress("%s", choice.Why)
		if choice.Mismatch != "" {
			o.Progress("%s", choice.Mismatch)
		}
	}
	res := &Result{Config: cfg, Started: started, Capability: cs, EditionWhy: choice.Why, EditionMismatch: choice.Mismatch}
	reg, why := o.Registry, ""
	if reg == nil {
		if reg, why, err = LoadPackages(append(cfg.Packages, o.Packages...)); err != nil {
			return nil, err
		}
	}
	res.Packages, res.Missing, res.PackagesNote = packagesOf(reg, cfg.Edition), missingPackages(reg, cfg.Edition), why
	val := newValidator(reg, cfg.Edition, why)
	comp, compWhy := loadCompartment(reg, why)
	chk, err := openapi.New(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("building the OpenAPI checker: %w", err)
	}
	ed, err := edition.Lookup(cfg.Edition)
	if err != nil {
		return nil, err
	}
	env := &framework.Env{
		Config:     cfg,
		Edition:    ed,
		HTTP:       hc,
		Check:      chk.Check,
		CheckHead:  chk.CheckHead,
		Validator:  val,
		WorkDir:    work,
		Progress:   o.Progress,
		Capability: cs,
		Disk:       &bulk.Disk{},
		Strangers:  o.Strangers,

		Compartment:    comp,
		CompartmentWhy: compWhy,
	}
	env.WatchLiveness(live)
	authz, ts, err := authorizer(ctx, cfg, hc, env)
	if err != nil {
		return nil, err
	}
	env.Authorizer = authz
	if err := checkInputs(ctx, cfg, hc, authz); err != nil {
		return nil, err
	}
	if ts != nil {
		chk.Learn(openapi.Token, ts.Credentials.TokenURL)
		// Token requests are exchanges of the run too: record and check
		// them like every other (the pre-flight's are not any spec's).
		ts.HTTPClient = &http.Client{
			Transport:     &bulk.Recorder{Base: hc.Transport, Record: env.Record, Check: chk.Check},
			CheckRedirect: hc.CheckRedirect,
			Timeout:       hc.Timeout,
		}
	}
	globals.Reset()
	gomega.RegisterFailHandler(ginkgo.Fail)
	suites.Register(env)
	ginkgo.ReportAfterSuite("pdex-conform", func(r ginkgo.Report) { res.Report = r })

	sc := types.NewDefaultSuiteConfig()
	sc.LabelFilter = ginkgoFilter(cfg)
	sc.Timeout = 2 * time.Hour
	// One order for every run: Ginkgo shuffles the areas by its seed, and
	// some specs see what earlier ones did to the target (exports recorded
	// on the Group, say). The same target must get the same verdict.
	sc.RandomSeed = specOrderSeed
	rc := types.NewDefaultReporterConfig()
	rc.Succinct = !o.Verbose
	rc.Verbose = o.Verbose
	rc.NoColor = o.NoColor
	rc.SilenceSkips = true
	ginkgo.RunSpecs(&testingT{}, "pdex-conform: Provider Access conformance", sc, rc)
	res.Duration = time.Since(res.Started)
	res.Downloads = env.Disk.Usage()
	res.FullExport, res.FullExportResources, _ = env.FullExportSpan()
	if o.Progress != nil {
		o.Progress("downloaded %s in all; at most %s on disk at once", bulk.Bytes(res.Downloads.Total), bulk.Bytes(res.Downloads.Peak))
	}
	opts := verdict.Options{
		Edition: cfg.Edition, FailOnShould: cfg.FailOn == "should", LabelFilter: cfg.LabelFilter,
		GapAnalysis: cfg.GapAnalysis(),
	}
	if choice.Mismatch != "" {
		opts.Notes = append(opts.Notes, choice.Mismatch)
	}
	// Judged twice: the first judgement counts the specs each root cause
	// blocked, which the verdict's first lines then say.
	opts.Causes = causes(env, live, nil)
	first := verdict.FromReport(res.Report, opts)
	opts.Causes = causes(env, live, first)
	res.Outcome = verdict.FromReport(res.Report, opts)
	return res, nil
}

// ginkgoFilter is the label filter the specs run under: the configured one,
// and in a gap analysis without the specs of requirements only the PDex
// operation has.
func ginkgoFilter(cfg *config.Config) string {
	if !cfg.GapAnalysis() {
		return cfg.LabelFilter
	}
	var not []string
	for _, r := range catalog.All() {
		if _, ok := catalog.PDexOnly(r.ID); ok {
			not = append(not, r.ID)
		}
	}
	f := "!(" + strings.Join(not, " || ") + ")"
	if cfg.LabelFilter != "" {
		f = "(" + cfg.LabelFilter + ") && " + f
	}
	return f
}

// causes lists the run's root causes, each with the number of specs it
// blocked: the target going down first, then missing discovery, token and
// operation, in the order found, then the prerequisites of the Bulk Data
// flow that blocked specs without a deeper cause (the full export's stages,
// the Group), most blocking first.
func causes(env *framework.Env, live *bulk.Liveness, out *verdict.Outcome) []verdict.Cause {
	blocked := map[string]int{}
	reason := map[string]string{}
	if out == nil {
		out = &verdict.Outcome{}
	}
	for _, s := range out.Specs {
		if s.State == verdict.Blocked {
			blocked[s.BlockedBy]++
			if _, ok := reason[s.BlockedBy]; !ok {
				reason[s.BlockedBy] = s.Reason
			}
		}
	}
	var list []verdict.Cause
	seen := map[string]bool{}
	add := func(c framework.Cause) {
		if seen[c.Prerequisite] {
			return
		}
		seen[c.Prerequisite] = true
		list = append(list, verdict.Cause{Prerequisite: c.Prerequisite, What: c.What, Fix: c.Fix, Blocked: blocked[c.Prerequisite]})
	}
	if o := live.Down(); o != nil {
		add(framework.OutageCause(o)) // with the final count of requests not sent
	}
	for _, c := range env.Causes() {
		add(c)
	}
	var rest []string
	for p := range blocked {
		if !seen[p] {
			rest = append(rest, p)
		}
	}
	slices.SortFunc(rest, func(a, b string) int { return cmp.Or(cmp.Compare(blocked[b], blocked[a]), cmp.Compare(a, b)) })
	for _, p := range rest {
		why := strings.TrimPrefix(strings.TrimPrefix(reason[p], "blocked by "+p+": "), "Blocked by "+p+": ")
		add(framework.Cause{Prerequisite: p, What: framework.Sentence(p + " failed: " + why)})
	}
	return list
}

// testingT stands in for *testing.T: Ginkgo only needs Fail.
type testingT struct{ failed bool }

func (t *testingT) Fail() { t.failed = true }

// mergeReference fills what the user left out from the reference server's
// own configuration.
func mergeReference(cfg, d *config.Config) {
	cfg.Target = d.Target
	if cfg.Group == "" {
		cfg.Group = d.Group
	}
	if len(cfg.Members) == 0 {
		cfg.Members = d.Members
	}
	if len(cfg.OptedOut) == 0 {
		cfg.OptedOut = d.OptedOut
	}
	if cfg.NonMember == "" {
		cfg.NonMember = d.NonMember
	}
	if cfg.OtherGroup == "" {
		cfg.OtherGroup = d.OtherGroup
	}
	if cfg.Auth.Mode == "" || cfg.Auth.Mode == "none" {
		scope := cfg.Auth.Scope
		cfg.Auth = d.Auth
		if scope != "" {
			cfg.Auth.Scope = scope
		}
	}
	cfg.LastDownloadExtension = d.LastDownloadExtension
	if cfg.Consent.Member == "" {
		cfg.Consent.Member = d.Consent.Member
	}
}

// httpClient builds the run's HTTP client: timeouts, TLS, bounded
// redirects, and a Liveness that notices a target that stops answering.
func httpClient(cfg *config.Config) (*http.Client, *bulk.Liveness, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = cfg.Timeouts.Request.Duration
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS.CACert != "" {
		pem, err := os.ReadFile(cfg.TLS.CACert)
		if err != nil {
			return nil, nil, &ConfigError{What: fmt.Sprintf("tls.caCert cannot be read (%v).", err), Fix: "Point tls.caCert at a readable PEM file."}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, &ConfigError{What: fmt.Sprintf("tls.caCert %s holds no PEM certificate.", cfg.TLS.CACert), Fix: "Give the CA certificate in PEM form."}
		}
		tc.RootCAs = pool
	}
	if cfg.TLS.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.ClientCert, cfg.TLS.ClientKey)
		if err != nil {
			return nil, nil, &ConfigError{What: fmt.Sprintf("The client certificate cannot be loaded (%v).", err), Fix: "Check tls.clientCert and tls.clientKey: a PEM certificate and its PEM private key."}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tc
	live := bulk.NewLiveness(tr)
	return &http.Client{
		Transport: live,
		// Redirects are followed a few times at most: a redirect loop must
		// end as a failure, not a hang.
		CheckRedirect: bulk.CheckRedirect(5),
	}, live, nil
}
