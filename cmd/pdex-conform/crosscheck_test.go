package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestValidateCrossCheck runs `validate --cross-check`: a structural error
// that google/fhir/go misses (an empty string, which json.html forbids) is
// an error of the engine and a cross-check warning; one both find is no
// warning; without packages there is nothing to compare with.
func TestValidateCrossCheck(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	os.WriteFile(in, []byte(`{"resourceType":"Basic","id":"b1","code":{"text":""}}`+"\n"+`{"resourceType":"Basic","id":"b2","code":{"text":"x"},"colour":"blue"}`+"\n"), 0o644)

	var stdout, stderr bytes.Buffer
	t.Setenv("HOME", dir)
	t.Setenv("FHIR_PACKAGES", "")
	if got := run(context.Background(), []string{"validate", "--cross-check", in}, &stdout, &stderr); got != exitUsage {
		t.Fatalf("without packages: exit %d, want %d (%s)", got, exitUsage, stderr.String())
	}

	t.Setenv("FHIR_PACKAGES", packagestest.Dir(t))
	stdout.Reset()
	stderr.Reset()
	if got := run(context.Background(), []string{"validate", "--cross-check", "--format", "json", in}, &stdout, &stderr); got != exitFailures {
		t.Fatalf("exit %d, want %d\n%s%s", got, exitFailures, stdout.String(), stderr.String())
	}
	var warnings []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, check.RuleCrossCheck) {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Basic.code.text") || !strings.Contains(warnings[0], "empty string") {
		t.Errorf("cross-check warnings %q, want one on Basic.code.text (empty string)", warnings)
	}
}
