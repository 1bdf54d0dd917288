package reports_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/formatter"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// realRun runs the suites against the in-process reference server with the
// given faults and builds the report model. One attestation is stated, one
// left out, as a payer would.
func realRun(t *testing.T, faults ...string) (*reports.Run, *runner.Result) {
	t.Helper()
	// Ginkgo's console reporter writes to the stdout it saw at start-up;
	// the test's output is not the place for it.
	prev := formatter.ColorableStdOut
	formatter.ColorableStdOut = io.Discard
	defer func() { formatter.ColorableStdOut = prev }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := &config.Config{Target: "reference", Faults: faults, Attestations: map[string]config.Attestation{
		"PA-ATT-02": {Attested: true, By: "A. Payer, Privacy Officer", Date: "2026-03-01", Evidence: "opt-out policy v3"},
	}}
	res, err := runner.Run(ctx, cfg, runner.Options{NoColor: true, Registry: packagestest.Optional(t)})
	if err != nil {
		t.Fatalf("the run could not take place: %v", err)
	}
	meta := res.Meta("test", true)
	meta.Faults, meta.Secrets = res.Config.Faults, []string{res.Config.Auth.PrivateKey}
	return reports.Build(res.Report, res.Outcome, meta), res
}

// chromium finds the browser. Where it is missing the test skips, except in
// CI, where .ci/run installs it and its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// headless runs Chromium on a page with the given extra arguments and
// returns its standard output.
func headless(t *testing.T, browser, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, browser, append(append(base, args...), "file://"+page)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestReportInBrowser loads the report of a real run with a failing spec in
// headless Chromium and checks, in the DOM as the browser built it (after
// the inline script ran), that the verdict, the summary pictures and the
// failed spec's evidence are there; it saves a screenshot.
func TestReportInBrowser(t *testing.T) {
	browser := chromium(t)
	run, _ := realRun(t, "wrong-content-type", "keep-financial")
	if run.Verdict != reports.NotConformant || run.Counts.Failed == 0 {
		t.Fatalf("the faulty reference server gave verdict %q with %d failures; the test needs a failure", run.Verdict, run.Counts.Failed)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteHTML(f, run); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	dom := string(headless(t, browser, page, "--dump-dom"))
	checks := []struct {
		what string
		re   string
	}{
		{"the script ran", `<html lang="en" class="js">`},
		{"the script counted the specs", `<output id="shown"[^>]*>\d+ of \d+ specs shown</output>`},
		{"the verdict", `<section class="verdict not-conformant" id="verdict"[^>]*>\s*<div class="word">not conformant</div>`},
		{"the area chart", `(?s)id="summary-areas".*?<svg class="chart".*?<rect class="failed"`},
		{"the resources chart", `(?s)id="summary-resources".*?<svg class="chart".*?>ExplanationOfBenefit</text>`},
		{"the validation summary", `(?s)id="summary-validation".*?in [\d,]+ lines of \d+ files`},
		{"the requirement table", `<tr id="req-PA-EXP-04" class="failed">`},
		{"the failed spec, open", `<details class="spec failed" id="spec-\d+" data-state="failed" open="">`},
		{"its plain-words failure", `(?s)class="spec failed".*?<p class="plain"><strong>Content-Type of http://[^<]+ \(got "application/json"; wanted "application/fhir\+ndjson"\)</strong></p>`},
		{"the Run section: the tool and the results hash", `(?s)<section id="run">.*?pdex-conform test.*?id="results-hash">sha256:[0-9a-f]{64}<`},
		{"the Run section: the target's software", `(?s)<td id="server">pdex-conform reference server version edition 2\.0\.0`},
		{"the Run section: the FHIR packages with versions", `(?s)<td id="packages"><ul><li><code>hl7\.fhir\.[a-z0-9.-]+#\d`},
		{"the Run section: the inputs", `(?s)<table class="inputs" id="inputs">.*?<td>optedOut</td><td><code>pat-`},
		{"the Run section: start and end", `(?s)<td>Ended</td><td>20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC`},
		{"validation coverage in the banner", `(?s)<div class="coverage" id="coverage"><strong>[\d,]+ resources validated</strong>`},
		{"requirement links to hl7.org", `(?s)<tr id="req-PA-AUTH-02".*?<a href="https://hl7\.org/fhir/smart-app-launch/STU2/backend-services\.html"`},
		{"attestations: one attested", `(?s)<tr id="att-PA-ATT-02">.*?<span class="state passed">attested</span>.*?A\. Payer, Privacy Officer`},
		{"attestations: one not", `(?s)<tr id="att-PA-ATT-01">.*?not attested`},
		{"the offending resource, its element marked", `(?s)<details class="evidence resource" open="">.*?ExplanationOfBenefit/.*?<pre class="resource">.*?<mark class="fault"[^>]*>"(total|payment|adjudication|item)"`},
		{"its evidence: the exchange named in the failure, open", `(?s)class="spec failed".*?<details class="exchange cited" open="">.*?application/json`},
		{"its evidence: redacted headers", `(?s)class="spec failed".*?Authorization: Bearer \[REDACTED\]`},
	}
	for _, c := range checks {
		if strings.Contains(c.what, "FHIR packages") && len(run.Meta.Packages) == 0 {
			continue // none found here: the report says so instead
		}
		if !regexp.MustCompile(c.re).MatchString(dom) {
			t.Errorf("the rendered page lacks %s (%s)", c.what, c.re)
		}
	}
	// Source locations and matcher dumps are for developers (the JSON
	// results), never in the page.
	for _, not := range []string{`suites/[a-z]+\.go:\d+`, `\bExpected\b\s*\n`, `<\*[a-z.]+ \| 0x`, `Gomega`} {
		if m := regexp.MustCompile(not).FindString(dom); m != "" {
			t.Errorf("the rendered page holds %q (%s)", m, not)
		}
	}
	if t.Failed() {
		t.Logf("the DOM as Chromium built it:\n%s", tail(dom, 20000))
	}

	shot := filepath.Join(dir, "report.png")
	headless(t, browser, page, "--screenshot="+shot, "--window-size=1280,2000")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if bnd := img.Bounds(); bnd.Dx() != 1280 || bnd.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280x2000", bnd)
	}
	// A blank page is one colour; a rendered report has many.
	colours := map[uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("the screenshot has %d colours: the page did not render", len(colours))
	}
	if out := os.Getenv("PDEX_CONFORM_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatalf("saving the screenshot: %v", err)
		}
		t.Logf("screenshot saved to %s", out)
	}
}
