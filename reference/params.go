package reference

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// exportParams is a parsed and validated $davinci-data-export request. It is
// stored with the job as JSON, so a job can run again after a restart.
type exportParams struct {
	ExportType string `json:"exportType,omitempty"`
	ExportMode string `json:"exportMode,omitempty"`
	// Kind is the kind of export asked for (snapshot, download, delta), from
	// exportMode in 2.0.0 and the exportType fragment from 2.1.0; "" when a
	// 2.1.0 request names no exportType.
	Kind     string     `json:"kind,omitempty"`
	Patients []string   `json:"patients,omitempty"` // patient ids asked for; empty = all members
	Since    *time.Time `json:"since,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	Types    []string   `json:"types,omitempty"`
	// TypeAsked records that _type was given, so that a lenient request
	// whose every type was ignored exports nothing rather than everything.
	TypeAsked   bool     `json:"typeAsked,omitempty"`
	TypeFilters []string `json:"typeFilters,omitempty"`
	// TypesSent and FiltersSent are _type and _typeFilter as the request
	// carried them (several occurrences joined by commas): 2.1.0 records
	// them in Group.member (lastResources, lastFilters) "as sent".
	TypesSent    string `json:"typesSent,omitempty"`
	FiltersSent  string `json:"filtersSent,omitempty"`
	OutputFormat string `json:"outputFormat,omitempty"`
	// Ignored holds what a lenient request asked for that the server does not
	// support; the job reports each in an error file.
	Ignored []string `json:"ignored,omitempty"`
	// BadPatients holds patient references that were not usable as such.
	BadPatients []string `json:"badPatients,omitempty"`
}

// rawParam is one parameter as it arrived, before validation.
type rawParam struct {
	name  string
	value string
	// kind says which value[x] carried it (for Parameters bodies), to reject
	// a value of the wrong type.
	kind string
}

// Limits on what a kick-off may carry, so that a hostile request cannot make
// the server hold unbounded data.
const (
	maxBodyBytes   = 1 << 20
	maxParameters  = 1000
	maxValueLength = 4096
)

// parseParametersBody reads a FHIR Parameters resource.
func parseParametersBody(body []byte) ([]rawParam, error) {
	var p struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the body is not a JSON Parameters resource: %v", err)
	}
	if p.ResourceType != "Parameters" {
		return nil, fmt.Errorf("the body must be a Parameters resource, not %q", p.ResourceType)
	}
	if len(p.Parameter) > maxParameters {
		return nil, fmt.Errorf("too many parameters (%d, at most %d)", len(p.Parameter), maxParameters)
	}
	var out []rawParam
	for i, prm := range p.Parameter {
		var name string
		if err := json.Unmarshal(prm["name"], &name); err != nil || name == "" {
			return nil, fmt.Errorf("parameter[%d] has no name", i)
		}
		var rp rawParam
		rp.name = name
		found := false
		for k, v := range prm {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			if found {
				return nil, fmt.Errorf("parameter %q has more than one value[x]", name)
			}
			found = true
			rp.kind = k
			switch k {
			case "valueReference":
				var ref struct {
					Reference string `json:"reference"`
				}
				if err := json.Unmarshal(v, &ref); err != nil {
					return nil, fmt.Errorf("parameter %q: bad valueReference: %v", name, err)
				}
				rp.value = ref.Reference
			case "valueCoding":
				var c struct {
					System string `json:"system"`
					Code   string `json:"code"`
				}
				if err := json.Unmarshal(v, &c); err != nil {
					return nil, fmt.Errorf("parameter %q: bad valueCoding: %v", name, err)
				}
				rp.value = c.Code
			default:
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return nil, fmt.Errorf("parameter %q: %s must be a string", name, k)
				}
				rp.value = s
			}
		}
		if !found {
			return nil, fmt.Errorf("parameter %q has no value", name)
		}
		if len(rp.value) > maxValueLength {
			return nil, fmt.Errorf("parameter %q is too long", name)
		}
		out = append(out, rp)
	}
	return out, nil
}

// parseQuery reads kick-off parameters from a raw query string. A malformed
// query (a bad %-escape, a semicolon) is an error, not silently dropped
// pairs: the client must learn that its request was not understood.
func parseQuery(rawQuery string) ([]rawParam, error) {
	if len(rawQuery) > maxBodyBytes {
		return nil, fmt.Errorf("the query string is longer than %d bytes", maxBodyBytes)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("the query string is malformed: %v", err)
	}
	var out []rawParam
	for name, vals := range q {
		for _, v := range vals {
			if len(v) > maxValueLength {
				return nil, fmt.Errorf("parameter %q is too long", name)
			}
			if name == "patient" {
				// GET carries several patients comma-separated.
				for _, p := range strings.Split(v, ",") {
					out = append(out, rawParam{name: name, value: p, kind: "query"})
				}
				continue
			}
			out = append(out, rawParam{name: name, value: v, kind: "query"})
		}
		if len(out) > maxParameters {
			return nil, fmt.Errorf("too many parameters (more than %d)", maxParameters)
		}
	}
	slices.SortStableFunc(out, func(a, b rawParam) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// valueTypes are the value[x] a Parameters body may use for each parameter,
// from the parameter types of the davinci-data-export OperationDefinition
// (SPEC §2), widened to the string types clients commonly send.
var valueTypes = map[string][]string{
	"patient":       {"valueReference"},
	"exportType":    {"valueCanonical", "valueUri", "valueString", "valueCode"},
	"exportMode":    {"valueCode", "valueString", "valueCoding"},
	"_since":        {"valueInstant", "valueDateTime", "valueString"},
	"_until":        {"valueInstant", "valueDateTime", "valueString"},
	"_type":         {"valueString", "valueCode"},
	"_typeFilter":   {"valueString"},
	"_outputFormat": {"valueString", "valueCode"},
}

// outputFormats are the _outputFormat spellings Bulk Data says a server SHALL
// accept for NDJSON.
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// exportableTypes are the resource types this server holds and exports.
var exportableTypes = []string{
	"AllergyIntolerance", "Condition", "Coverage", "DiagnosticReport", "Encounter",
	"ExplanationOfBenefit", "Immunization", "MedicationRequest", "Observation",
	"Organization", "Patient", "Practitioner", "Procedure",
}

// badRequest is a client error in a kick-off: it becomes a 400 with an
// OperationOutcome.
type badRequest struct {
	msg string
	// unsupportedParam marks the refusal of a parameter the operation does
	// not have (for the unknown-param-404 fault).
	unsupportedParam bool
}

func (e *badRequest) Error() string { return e.msg }

func badf(format string, a ...any) error { return &badRequest{msg: fmt.Sprintf(format, a...)} }

// validate turns raw parameters into exportParams under an edition's rules.
// lenient (Prefer: handling=lenient) turns unsupported parameters into
// entries in Ignored instead of errors.
func validate(raw []rawParam, ed *edition, lenient bool, f faults) (*exportParams, error) {
	p := &exportParams{}
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return badf("parameter %s may appear only once", name)
		}
		seen[name] = true
		return nil
	}
	for _, rp := range raw {
		if allowed, ok := valueTypes[rp.name]; ok && rp.kind != "query" && !slices.Contains(allowed, rp.kind) {
			return nil, badf("parameter %s must be given as %s, not %s", rp.name, strings.Join(allowed, " or "), rp.kind)
		}
		switch rp.name {
		case "exportType":
			if err := once(rp.name); err != nil {
				return nil, err
			}
			p.ExportType = rp.value
		case "exportMode":
			if ed.Modes == nil && !f.has(FaultAnyExportMode) && !f.has(FaultAcceptUnknownParam) {
				// 2.1.0 removed exportMode: it is an unsupported parameter.
				if lenient {
					p.Ignored = append(p.Ignored, "parameter exportMode is not supported in edition "+ed.Name+" and was ignored (the kind of export is the exportType fragment)")
					continue
				}
				return nil, badf("parameter exportMode is not supported in edition %s: the kind of export is the exportType value (%s)", ed.Name, ed.exportTypes())
			}
			if err := once(rp.name); err != nil {
				return nil, err
			}
			p.ExportMode = rp.value
		case "patient":
			id, ok := patientID(rp.value)
			if !ok {
				p.BadPatients = append(p.BadPatients, rp.value)
				continue
			}
			p.Patients = append(p.Patients, id)
		case "_since", "_until":
			if err := once(rp.name); err != nil {
				return nil, err
			}
			t, err := parseInstant(rp.value)
			if err != nil {
				return nil, badf("%s: %v", rp.name, err)
			}
			if rp.name == "_since" {
				p.Since = &t
			} else {
				p.Until = &t
			}
		case "_type":
			p.TypeAsked = true
			p.TypesSent = joinSent(p.TypesSent, rp.value)
			for _, t := range strings.Split(rp.value, ",") {
				t = strings.TrimSpace(t)
				if !slices.Contains(exportableTypes, t) {
					if lenient {
						p.Ignored = append(p.Ignored, "_type "+t+" is not a resource type this server exports")
						continue
					}
					return nil, badf("_type: %q is not a resource type this server exports (it exports %s)", t, strings.Join(exportableTypes, ", "))
				}
				if !slices.Contains(p.Types, t) {
					p.Types = append(p.Types, t)
				}
			}
			if len(p.Types) == 0 && !lenient {
				return nil, badf("_type is empty")
			}
		case "_typeFilter":
			p.FiltersSent = joinSent(p.FiltersSent, rp.value)
			for _, q := range splitTypeFilters(rp.value) {
				if _, err := parseTypeFilter(q); err != nil {
					if lenient {
						p.Ignored = append(p.Ignored, "_typeFilter "+q+": "+err.Error())
						continue
					}
					return nil, badf("_typeFilter %q: %v", q, err)
				}
				p.TypeFilters = append(p.TypeFilters, q)
			}
		case "_outputFormat":
			if err := once(rp.name); err != nil {
				return nil, err
			}
			if f.has(FaultRefuseOutputFormat) {
				// A server that never learnt the parameter: NDJSON is its
				// only format, so it refuses the parameter naming it.
				return nil, badf("parameter _outputFormat is not supported")
			}
			if !slices.Contains(outputFormats, rp.value) || (f.has(FaultRefuseNDJSONAlias) && rp.value != outputFormats[0]) {
				return nil, badf("_outputFormat %q is not supported (use application/fhir+ndjson)", rp.value)
			}
			p.OutputFormat = rp.value
		default:
			if lenient {
				p.Ignored = append(p.Ignored, "parameter "+rp.name+" is not supported and was ignored")
				continue
			}
			if f.has(FaultAcceptUnknownParam) {
				continue
			}
			return nil, &badRequest{msg: fmt.Sprintf("parameter %q is not supported by $davinci-data-export", rp.name), unsupportedParam: true}
		}
	}
	if p.Since != nil && p.Until != nil && p.Until.Before(*p.Since) {
		return nil, badf("_until (%s) is before _since (%s)", p.Until.Format(time.RFC3339), p.Since.Format(time.RFC3339))
	}
	if err := ed.checkRequest(p, f); err != nil {
		return nil, err
	}
	return p, nil
}

func joinSent(prev, v string) string {
	if prev == "" {
		return v
	}
	return prev + "," + v
}

// patientID accepts "Patient/id" (and a full URL ending in it).
func patientID(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 {
		return "", false
	}
	id := ref[i+len("Patient/"):]
	if id == "" || strings.ContainsAny(id, "/?#") || len(id) > 64 {
		return "", false
	}
	return id, true
}

// parseInstant reads a FHIR instant: a full date-time with seconds and a
// time zone.
func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a FHIR instant (e.g. 2024-01-02T03:04:05Z)", s)
	}
	return t.UTC(), nil
}

// splitTypeFilters splits a _typeFilter value at the commas that separate
// queries, not at the commas inside a query's values (which separate
// alternatives): a new query starts where a comma is followed by "Type?".
func splitTypeFilters(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] != ',' {
			continue
		}
		rest := v[i+1:]
		q := strings.IndexByte(rest, '?')
		if q > 0 && isTypeName(rest[:q]) {
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
