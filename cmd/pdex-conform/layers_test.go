package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestLayers checks that the packages' imports point one way: the CLI on
// top, then the runner, the suites and their framework, the client library
// (client/, config, evidence, keys), the validators at the bottom; the
// reference server, the system under test, stands apart and imports nothing
// of the harness; the suites judge a target by the official definitions,
// never by the reference server's data rules (fixtures).
func TestLayers(t *testing.T) {
	const mod = "github.com/pdex-conform/pdex-conform/"
	// forbidden maps a package prefix to the prefixes it must not import.
	forbidden := []struct {
		from string
		not  []string
	}{
		{"reference", []string{"runner", "suites", "client", "config", "evidence", "verdict", "reports", "bench", "cmd", "edition"}},
		{"suites", []string{"fixtures", "reference", "runner", "reports", "bench", "cmd"}},
		{"client", []string{"runner", "suites", "reference", "fixtures", "reports", "bench", "cmd"}},
		{"config", []string{"runner", "suites", "reference", "fixtures", "reports", "bench", "cmd"}},
		{"evidence", []string{"runner", "suites", "reference", "fixtures", "reports", "client", "bench", "cmd"}},
		{"validators", []string{"runner", "suites", "reference", "fixtures", "reports", "client", "config", "bench", "cmd"}},
		{"verdict", []string{"runner", "reference", "fixtures", "reports", "client", "bench", "cmd"}},
		{"reports", []string{"runner", "reference", "fixtures", "client", "bench", "cmd"}},
		{"keys", []string{"runner", "suites", "reference", "client", "config", "cmd"}},
		{"edition", []string{"runner", "suites", "reference", "client", "config", "validators", "cmd"}},
		{"runner", []string{"cmd", "bench"}},
	}
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, f := range forbidden {
			if rel != f.from && !strings.HasPrefix(rel, f.from+"/") {
				continue
			}
			for _, imp := range p.Imports {
				irel, ok := strings.CutPrefix(imp, mod)
				if !ok {
					continue
				}
				for _, n := range f.not {
					if irel == n || strings.HasPrefix(irel, n+"/") {
						t.Errorf("%s imports %s: %s must not depend on %s", rel, irel, f.from, n)
					}
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list listed %d packages", seen)
	}
}
