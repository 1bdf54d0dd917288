// Package runner runs the conformance suites from inside the binary against
// one target: it completes the configuration, starts the reference server
// when asked to, builds the authorized client and the validators, and runs
// the Ginkgo specs, returning their report.
package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/extensions/globals"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/suites"
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
	// EditionWhy says how the run chose its edition; EditionMismatch, when
	// set, that the target declares another one.
	EditionWhy, EditionMismatch string
}

// Run runs the suites against cfg.Target. The error is for a run that could
// not take place (bad configuration, no reference server); failing specs are
// in the report.
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
		served := o.ReferenceEdition
		if served == "" && cfg.Edition != edition.Auto {
			served = cfg.Edition
		}
		srv, err := reference.Listen(ctx, "127.0.0.1:0", reference.Options{
			DB:       work + "/reference.db",
			Edition:  served,
			Faults:   cfg.Faults,
			Variants: cfg.Variants,
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

	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	authz, err := authorizer(ctx, cfg, hc)
	if err != nil {
		return nil, err
	}
	ectx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Request.Duration)
	choice, err := chooseEdition(ectx, cfg, hc, authz)
	cancel()
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress("%s", choice.Why)
		if choice.Mismatch != "" {
			o.Progress("%s", choice.Mismatch)
		}
	}
	reg, why := o.Registry, ""
	if reg == nil {
		if reg, why, err = LoadPackages(append(cfg.Packages, o.Packages...)); err != nil {
			return nil, err
		}
	}
	val := newValidator(reg, cfg.Edition, why)
	chk, err := openapi.New(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("building the OpenAPI checker: %w", err)
	}
	if ts, ok := authz.(*smart.TokenSource); ok {
		chk.Learn(openapi.Token, ts.Credentials.TokenURL)
	}
	ed, err := edition.Lookup(cfg.Edition)
	if err != nil {
		return nil, err
	}
	env := &framework.Env{
		Config:     cfg,
		Edition:    ed,
		HTTP:       hc,
		Authorizer: authz,
		Check:      chk.Check,
		CheckHead:  chk.CheckHead,
		Validator:  val,
		WorkDir:    work,
		Progress:   o.Progress,
	}
	if ts, ok := authz.(*smart.TokenSource); ok {
		// Token requests are exchanges of the run too: record and check
		// them like every other.
		ts.HTTPClient = &http.Client{
			Transport:     &bulk.Recorder{Base: hc.Transport, Record: env.Record, Check: chk.Check},
			CheckRedirect: hc.CheckRedirect,
			Timeout:       hc.Timeout,
		}
	}
	res := &Result{Config: cfg, Started: time.Now(), EditionWhy: choice.Why, EditionMismatch: choice.Mismatch}
	globals.Reset()
	gomega.RegisterFailHandler(ginkgo.Fail)
	suites.Register(env)
	ginkgo.ReportAfterSuite("pdex-conform", func(r ginkgo.Report) { res.Report = r })

	sc := types.NewDefaultSuiteConfig()
	sc.LabelFilter = cfg.LabelFilter
	sc.Timeout = 2 * time.Hour
	rc := types.NewDefaultReporterConfig()
	rc.Succinct = !o.Verbose
	rc.Verbose = o.Verbose
	rc.NoColor = o.NoColor
	rc.SilenceSkips = true
	ginkgo.RunSpecs(&testingT{}, "pdex-conform: Provider Access conformance", sc, rc)
	res.Duration = time.Since(res.Started)
	var notes []string
	if choice.Mismatch != "" {
		notes = append(notes, choice.Mismatch)
	}
	res.Outcome = verdict.FromReport(res.Report, verdict.Options{
		Edition: cfg.Edition, FailOnShould: cfg.FailOn == "should", LabelFilter: cfg.LabelFilter, Notes: notes})
	return res, nil
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

func httpClient(cfg *config.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = cfg.Timeouts.Request.Duration
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS.CACert != "" {
		pem, err := os.ReadFile(cfg.TLS.CACert)
		if err != nil {
			return nil, fmt.Errorf("reading tls.caCert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caCert %s holds no PEM certificate", cfg.TLS.CACert)
		}
		tc.RootCAs = pool
	}
	if cfg.TLS.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.ClientCert, cfg.TLS.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tc
	return &http.Client{
		Transport: tr,
		// Redirects are followed a few times at most: a redirect loop must
		// end as a failure, not a hang.
		CheckRedirect: bulk.CheckRedirect(5),
	}, nil
}
