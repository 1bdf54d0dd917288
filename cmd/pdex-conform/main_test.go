package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandExitCodes covers every command's exit codes and its one plain
// line on stderr for bad usage.
func TestCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ndjson")
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(good, []byte(`{"resourceType":"Patient","id":"p1","gender":"female"}`+"\n"), 0o644)
	os.WriteFile(bad, []byte(`{"resourceType":"Patient","id":"p1","gender":"robot"}`+"\n"+`{"resourceType":"ExplanationOfBenefit","id":"e1","status":"active","use":"claim","total":[]}`+"\n"), 0o644)
	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, nil, 0o644)
	pretty := filepath.Join(dir, "pretty.ndjson")
	os.WriteFile(pretty, []byte("{\n  \"resourceType\": \"Patient\"\n}\n"), 0o644)
	noFiles := filepath.Join(dir, "nothing")
	os.Mkdir(noFiles, 0o755)
	t.Setenv("FHIR_PACKAGES", "") // structure only: the codes do not depend on packages
	t.Setenv("HOME", dir)         // no ~/.fhir/packages

	tests := []struct {
		name   string
		args   []string
		want   int
		stdout string // a substring stdout must hold
	}{
		{"no command", nil, exitUsage, ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, ""},
		{"help", []string{"--help"}, exitOK, "Usage"},
		{"version", []string{"version"}, exitOK, "pdex-conform"},
		{"run without target", []string{"run"}, exitUsage, ""},
		{"run with a bad target URL", []string{"run", "--target", "ftp://x", "--group", "g"}, exitUsage, ""},
		{"run a URL target without group", []string{"run", "--target", "http://127.0.0.1:1"}, exitUsage, ""},
		{"run with a bad label filter", []string{"run", "--target", "reference", "--label-filter", "(("}, exitUsage, ""},
		{"run with an unknown fault", []string{"run", "--target", "reference", "--fault", "no-such-fault"}, exitUsage, ""},
		{"run --help", []string{"run", "--help"}, exitOK, ""},
		// One spec passes and the other SHALL requirements go untested: no
		// failure, but not a conformant verdict either.
		{"run an incomplete selection", []string{"run", "--target", "reference", "--quiet", "--label-filter", "PA-GROUP-01"}, exitIncomplete, "incomplete"},
		{"validate nothing", []string{"validate"}, exitUsage, ""},
		{"validate a missing file", []string{"validate", filepath.Join(dir, "missing.ndjson")}, exitUsage, ""},
		{"validate a valid file without packages: profiles not checked", []string{"validate", good}, exitIncomplete, ""},
		{"validate a valid file, structure only", []string{"validate", "--structure-only", good}, exitOK, ""},
		{"validate an empty file", []string{"validate", "--structure-only", empty}, exitFailures, "no resources: the file is empty"},
		{"validate pretty-printed JSON saved as .ndjson", []string{"validate", "--structure-only", pretty}, exitFailures, "looks like pretty-printed JSON"},
		{"validate a folder without resource files", []string{"validate", noFiles}, exitUsage, ""},
		{"validate with an unknown edition", []string{"validate", "--edition", "banana", good}, exitUsage, ""},
		{"validate a profile without packages", []string{"validate", "--profile", "http://example.org/p", good}, exitUsage, ""},
		{"validate an invalid file", []string{"validate", bad}, exitFailures, "pdex-no-financial"},
		{"validate --format yaml", []string{"validate", "--format", "yaml", good}, exitUsage, ""},
		{"serve --list-faults", []string{"serve", "--list-faults"}, exitOK, "keep-financial"},
		{"serve --list-variants", []string{"serve", "--list-variants"}, exitOK, "slow-jobs"},
		{"serve with an unknown variant", []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "v.db"), "--variant", "nope"}, exitUsage, ""},
		{"serve with a bad fault", []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "x.db"), "--fault", "nope"}, exitUsage, ""},
		{"serve with half a TLS pair", []string{"serve", "--tls-cert", "c.pem"}, exitUsage, ""},
		{"fixtures without subcommand", []string{"fixtures"}, exitUsage, ""},
		{"fixtures generate without --out", []string{"fixtures", "generate"}, exitUsage, ""},
		{"fixtures generate", []string{"fixtures", "generate", "--members", "6", "--groups", "2", "--out", filepath.Join(dir, "data")}, exitOK, "wrote"},
		{"packages without subcommand", []string{"packages"}, exitUsage, ""},
		{"packages list with nothing to list", []string{"packages", "list"}, exitUsage, ""},
		{"packages install without a name", []string{"packages", "install"}, exitUsage, ""},
		{"packages install from an unreachable registry", []string{"packages", "install", "--registry", "http://127.0.0.1:1", "--cache", filepath.Join(dir, "cache"), "hl7.fhir.us.core#3.1.1"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout.String(), stderr.String())
			}
			if tt.want == exitUsage && len(tt.args) > 0 && !strings.Contains(strings.Join(tt.args, " "), "--help") {
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				if last := lines[len(lines)-1]; !strings.HasPrefix(last, "pdex-conform: ") {
					t.Errorf("bad usage must end with one plain line on stderr, got %q", stderr.String())
				}
			}
			if tt.stdout != "" && !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout does not mention %q:\n%s", tt.stdout, stdout.String())
			}
		})
	}
}
