package reference

import (
	"fmt"
	"maps"
	"slices"
)

// The server can stand in for a plain FHIR Bulk Data server (Options.
// Operation "export"): it serves Group/[id]/$export instead of
// $davinci-data-export, declares that in its CapabilityStatement, and knows
// nothing of the parameters only the PDex operation has (exportType,
// exportMode, ATR's _until), refusing them as unsupported like any other
// unknown parameter. It is a way of serving, not a fault: a payer that
// starts from plain Bulk Data looks like this, and the harness's gap
// analysis (run --operation export) is tested against it.

// Operation names.
const (
	OperationPDex = "davinci-data-export"
	OperationBulk = "export"
)

// Canonicals of the operations' definitions.
const (
	pdexExportDefinition = "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export"
	bulkExportDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
)

// pdexOnlyParams are the kick-off parameters plain Bulk Data 2.0.0 $export
// does not define.
var pdexOnlyParams = []string{"exportType", "exportMode", "_until"}

func checkOperation(op string) (string, error) {
	switch op {
	case "", OperationPDex:
		return OperationPDex, nil
	case OperationBulk:
		return OperationBulk, nil
	}
	return "", fmt.Errorf("operation %q is not %s or %s", op, OperationPDex, OperationBulk)
}

// plainBulk reports whether the server serves plain Bulk Data $export.
func (s *Server) plainBulk() bool { return s.opts.Operation == OperationBulk }

// operationPath is the operation as it appears in the URL.
func (s *Server) operationPath() string { return "$" + s.opts.Operation }

// operationDeclaration is the Group operation the CapabilityStatement
// declares.
func (s *Server) operationDeclaration() map[string]any {
	if s.plainBulk() {
		return map[string]any{"name": "export", "definition": bulkExportDefinition}
	}
	return map[string]any{"name": "davinci-data-export", "definition": pdexExportDefinition}
}

// parseKickoff validates a kick-off's parameters for the operation served.
// Plain Bulk Data refuses the PDex-only parameters (or, lenient, ignores
// them) and then applies no exportType or exportMode rule: it has none.
func (s *Server) parseKickoff(raw []rawParam, lenient bool) (*exportParams, error) {
	if !s.plainBulk() {
		return validate(raw, s.edition, lenient, s.faults)
	}
	var kept []rawParam
	var ignored []string
	for _, rp := range raw {
		if !slices.Contains(pdexOnlyParams, rp.name) {
			kept = append(kept, rp)
			continue
		}
		if !lenient && !s.faults.has(FaultAcceptUnknownParam) {
			return nil, badf("parameter %q is not supported by $export", rp.name)
		}
		ignored = append(ignored, "parameter "+rp.name+" is not supported and was ignored")
	}
	// The edition's exportType and exportMode rules are PDex's: with none of
	// those parameters left, they are switched off the way the faults that
	// accept any value switch them off.
	f := maps.Clone(s.faults)
	f[FaultAnyExportType], f[FaultAnyExportMode] = true, true
	p, err := validate(kept, s.edition, lenient, f)
	if err != nil {
		return nil, err
	}
	p.Ignored = append(p.Ignored, ignored...)
	return p, nil
}

// instantiates is the CapabilityStatement the server claims to implement:
// Bulk Data's when it serves plain $export; from 2.1.0 the Provider Access
// server CapabilityStatement in the edition's version (2.0.0 has none). The
// PDex IG with its version is declared either way (implementationGuide):
// the edition is read from there too.
func (s *Server) instantiates() []string {
	switch {
	case s.plainBulk():
		return []string{"http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"}
	case s.edition.Capability != "" && !s.faults.has(FaultCapabilityNoInstantiates):
		return []string{s.edition.Capability + "|" + s.edition.Name}
	}
	return nil
}
