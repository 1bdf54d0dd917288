package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestPackagesListOnce: each package found is listed once, even when two
// paths hold it, and each missing dependency once, with all that need it.
func TestPackagesListOnce(t *testing.T) {
	dir := packagestest.Dir(t)
	t.Setenv("FHIR_PACKAGES", dir)
	t.Setenv("HOME", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"packages", "list", "--packages", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, id := range []string{"hl7.fhir.us.core#3.1.1 ", "hl7.fhir.us.carin-bb#2.0.0 ", "hl7.terminology.r4#5.3.0 "} {
		if n := strings.Count(out, id); n != 1 {
			t.Errorf("%s listed %d times:\n%s", id, n, out)
		}
	}
	if !strings.Contains(out, "needed by hl7.fhir.us.davinci-pdex#2.0.0, hl7.fhir.us.davinci-pdex.r4#2.1.0") {
		t.Errorf("a dependency needed by two packages should name both:\n%s", out)
	}
}

func TestPackagesInstallUnreachableSaysTheOfflineWay(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"packages", "install", "--registry", "http://127.0.0.1:1", "--cache", t.TempDir(), "hl7.fhir.us.core#3.1.1"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], "--packages") || !strings.Contains(lines[0], "--registry") {
		t.Errorf("exit %d, stderr %q: want exit 2 and one line with the offline way", code, stderr.String())
	}
}
