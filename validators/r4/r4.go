// Package r4 checks that resources are structurally valid FHIR R4, using
// github.com/google/fhir/go: types, cardinality of required elements,
// reference targets and required-binding codes. It knows nothing of
// profiles; package profile does. pdex-conform uses it where no FHIR
// package is loaded, and as an independent cross-check of the snapshot
// engine, which otherwise checks structure from the R4 definitions.
package r4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/jsonscan"
)

// Parser parses R4 JSON resources. A Parser is not safe for concurrent use:
// give each goroutine its own (New is cheap).
type Parser struct {
	um *jsonformat.Unmarshaller
}

// New returns a Parser.
func New() (*Parser, error) {
	um, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("r4: creating unmarshaller: %w", err)
	}
	return &Parser{um: um}, nil
}

// Check parses one resource and returns its structural issues; none means the
// resource is valid R4.
func (p *Parser) Check(raw []byte) []validators.Issue {
	issues, _ := p.Parse(raw)
	return issues
}

// Parse is Check that also says whether the whole resource was checked:
// complete is false when an error stopped the parse (bad JSON, an unknown
// element, a value of the wrong type), and so the checks that follow a
// parse (required elements, reference targets, codes) did not run.
func (p *Parser) Parse(raw []byte) (issues []validators.Issue, complete bool) {
	// Hostile input (deep nesting, huge arrays) is refused before the
	// parser, which recurses once per level, spends stack and memory on it.
	if err := jsonscan.Default.Check(raw); err != nil {
		return []validators.Issue{{Severity: validators.Error, Message: "invalid JSON: " + err.Error(), Rule: Rule}}, false
	}
	if bytes.Contains(raw, []byte(`"Parameters"`)) {
		if issues, complete, ok := p.checkParameters(raw); ok {
			return issues, complete
		}
	}
	return p.check(raw)
}

func (p *Parser) check(raw []byte) ([]validators.Issue, bool) {
	rep := &reporter{}
	if _, err := p.um.UnmarshalWithErrorReporter(raw, rep); err != nil {
		// Errors that stop parsing come back here rather than through
		// the reporter.
		return append(rep.issues, parseIssues(err)...), false
	}
	return rep.issues, true
}

// checkParameters checks a Parameters resource whose parameters carry
// resources. The R4 definition types Parameters.parameter.resource (and so
// parameter.part.resource, by its content reference) as Resource: a whole
// resource. google/fhir/go's R4 protos type it as google.protobuf.Any, and
// its JSON reader parses an Any as a resource only under a property named
// "contained": every property of the resource would come back as "unknown
// field". So each such resource is taken out and checked as a resource of
// its own, its issues placed under its parameter, and the Parameters
// checked without them. ok is false when raw is not such a Parameters.
func (p *Parser) checkParameters(raw []byte) (issues []validators.Issue, complete, ok bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var res map[string]any
	if err := d.Decode(&res); err != nil || res["resourceType"] != "Parameters" {
		return nil, false, false
	}
	params, _ := res["parameter"].([]any)
	var nested []nestedResource
	takeResources(params, "Parameters.parameter", &nested)
	if len(nested) == 0 {
		return nil, false, false
	}
	complete = true
	for _, n := range nested {
		b, err := json.Marshal(n.res)
		if err != nil {
			return nil, false, false
		}
		rt, _ := n.res["resourceType"].(string)
		found, all := p.Parse(b)
		complete = complete && all
		for _, is := range found {
			if rest, ok := strings.CutPrefix(is.Path, rt); ok && rt != "" {
				is.Path = n.path + rest
			} else {
				is.Path = n.path
			}
			issues = append(issues, is)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, false, false
	}
	outer, all := p.check(b)
	return append(outer, issues...), complete && all, true
}

type nestedResource struct {
	path string
	res  map[string]any
}

// takeResources removes the resources of parameters (and of their parts,
// at any depth) and lists them with their paths.
func takeResources(params []any, path string, out *[]nestedResource) {
	for i, pv := range params {
		pm, ok := pv.(map[string]any)
		if !ok {
			continue
		}
		at := path + "[" + strconv.Itoa(i) + "]"
		if r, ok := pm["resource"].(map[string]any); ok {
			*out = append(*out, nestedResource{at + ".resource", r})
			delete(pm, "resource")
		}
		if parts, ok := pm["part"].([]any); ok {
			takeResources(parts, at+".part", out)
		}
	}
}

// reporter collects validation findings that do not stop parsing (missing
// required elements, bad reference targets, codes outside required bindings).
type reporter struct{ issues []validators.Issue }

func (r *reporter) ReportValidationError(path string, err error) error {
	r.issues = append(r.issues, validators.Issue{Severity: validators.Error, Path: path, Message: message(path, err), Rule: Rule})
	return nil
}

func (r *reporter) ReportValidationWarning(path string, err error) error {
	r.issues = append(r.issues, validators.Issue{Severity: validators.Warning, Path: path, Message: message(path, err), Rule: Rule})
	return nil
}

// message is an error's text without the path it repeats.
func message(path string, err error) string {
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("error at %q: ", path))
}

// Rule names structural findings in issues.
const Rule = "fhir-r4-structure"

// parseIssues turns a parse error into issues: the library joins its
// errors with line breaks, each prefixed with the element's path ("error
// at \"Patient.foo\": ..."), which becomes the issue's Path.
func parseIssues(err error) []validators.Issue {
	var out []validators.Issue
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		msg, path := strings.TrimSpace(line), ""
		if rest, ok := strings.CutPrefix(msg, "error at \""); ok {
			if j := strings.Index(rest, "\""); j >= 0 {
				path = rest[:j]
				msg = strings.TrimLeft(strings.TrimPrefix(rest[j+1:], ":"), " ")
			}
		}
		if msg != "" {
			out = append(out, validators.Issue{Severity: validators.Error, Path: path, Message: msg, Rule: Rule})
		}
	}
	return out
}
