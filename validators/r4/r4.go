// Package r4 checks that resources are structurally valid FHIR R4, using
// github.com/google/fhir/go: types, cardinality of required elements,
// reference targets and required-binding codes. It knows nothing of
// profiles; package profile does.
package r4

import (
	"fmt"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/pdex-conform/pdex-conform/validators"
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
	rep := &reporter{}
	if _, err := p.um.UnmarshalWithErrorReporter(raw, rep); err != nil {
		// Errors that stop parsing (bad JSON, unknown element, wrong type)
		// come back here rather than through the reporter.
		rep.issues = append(rep.issues, parseIssue(err))
	}
	return rep.issues
}

// reporter collects validation findings that do not stop parsing (missing
// required elements, bad reference targets, codes outside required bindings).
type reporter struct{ issues []validators.Issue }

func (r *reporter) ReportValidationError(path string, err error) error {
	r.issues = append(r.issues, validators.Issue{Severity: validators.Error, Path: path, Message: err.Error(), Rule: Rule})
	return nil
}

func (r *reporter) ReportValidationWarning(path string, err error) error {
	r.issues = append(r.issues, validators.Issue{Severity: validators.Warning, Path: path, Message: err.Error(), Rule: Rule})
	return nil
}

// Rule names structural findings in issues.
const Rule = "fhir-r4-structure"

func parseIssue(err error) validators.Issue {
	msg := strings.TrimSpace(err.Error())
	path := ""
	// The library prefixes messages with the element path ("error at
	// \"Patient.foo\": ..."); lift it into the issue's Path.
	if i := strings.Index(msg, "error at \""); i >= 0 {
		rest := msg[i+len("error at \""):]
		if j := strings.Index(rest, "\""); j >= 0 {
			path = rest[:j]
			msg = strings.TrimLeft(strings.TrimPrefix(rest[j+1:], ":"), " ")
		}
	}
	return validators.Issue{Severity: validators.Error, Path: path, Message: msg, Rule: Rule}
}
