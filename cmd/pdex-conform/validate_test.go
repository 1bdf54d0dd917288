package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// readmeSchema is the JSON Schema of `validate --format json` as the README
// documents it, so that the document and the output cannot drift apart.
func readmeSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- validate-json-schema -->")
	block, _, ok2 := strings.Cut(rest, "<!-- /validate-json-schema -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no validate-json-schema block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```json"), "```")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(block))
	if err != nil {
		t.Fatalf("README schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("validate-output.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("validate-output.json")
	if err != nil {
		t.Fatalf("README schema does not compile: %v", err)
	}
	return s
}

// TestValidateJSONMatchesSchema runs `validate --format json` over input
// that yields every kind of record (issues about resources, issues about
// the input, not-checked counts) and checks each line against the README's
// schema, and the summary against the text totals.
func TestValidateJSONMatchesSchema(t *testing.T) {
	schema := readmeSchema(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.ndjson"), []byte(
		`{"resourceType":"Patient","id":"p1","gender":"robot"}`+"\n"+
			`{"resourceType":"ExplanationOfBenefit","id":"e1","status":"active","use":"claim","total":[{"category":{"text":"x"},"amount":{"value":1,"currency":"USD"}}]}`+"\n"+
			`{"resourceType":"Patient","id":x}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.ndjson"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "doc.json"), []byte(`{"resourceType":"Observation","id":"o1","meta":{"profile":["http://example.org/StructureDefinition/not-offline"]},"status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"unit":"L/min","system":"http://unitsofmeasure.org","code":"L/min"}}`), 0o644)
	t.Setenv("HOME", dir)

	cases := []struct {
		name string
		args []string
		pkgs bool
	}{
		{"structure only", []string{"--structure-only"}, false},
		{"with packages", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pkgs {
				t.Setenv("FHIR_PACKAGES", packagestest.Dir(t))
			} else {
				t.Setenv("FHIR_PACKAGES", "")
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"validate", "--format", "json"}, tc.args...)
			code := run(context.Background(), append(args, dir), &stdout, &stderr)
			if code != exitFailures {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailures, stderr.String())
			}
			var lines, issues, errs int
			var summary map[string]any
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				lines++
				inst, err := jsonschema.UnmarshalJSON(strings.NewReader(sc.Text()))
				if err != nil {
					t.Fatalf("line %d is not JSON: %v", lines, err)
				}
				if err := schema.Validate(inst); err != nil {
					t.Errorf("line %d does not match the README schema: %v\n%s", lines, err, sc.Text())
				}
				var rec map[string]any
				json.Unmarshal(sc.Bytes(), &rec)
				if s, ok := rec["summary"].(map[string]any); ok {
					if summary != nil {
						t.Error("two summary lines")
					}
					summary = s
					continue
				}
				if summary != nil {
					t.Error("an issue after the summary")
				}
				issues++
				if rec["severity"] == "error" {
					errs++
				}
			}
			if summary == nil {
				t.Fatal("no summary line")
			}
			if int(summary["errors"].(float64)) != errs || errs < 4 {
				t.Errorf("summary says %v errors, the lines hold %d (want at least 4: gender, financial, syntax, empty file)", summary["errors"], errs)
			}
			if summary["profilesChecked"] != tc.pkgs {
				t.Errorf("profilesChecked = %v", summary["profilesChecked"])
			}
			if tc.pkgs && summary["notCheckedTotal"].(float64) == 0 {
				t.Errorf("with packages, the summary should count the checks not made offline: %v", summary)
			}
		})
	}
}
