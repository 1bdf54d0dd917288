// Package compartment says whose patient compartment an exported resource
// belongs to, by the official FHIR R4 Patient CompartmentDefinition and the
// SearchParameters it names, read from the FHIR packages. It holds no rule
// of its own: a resource type is in the compartment when the definition
// lists it, and a resource is in a patient's compartment when one of the
// elements its search parameters point at references that Patient.
//
// Bulk Data (export.html, Kick-off Request) takes the Patient compartment
// as the point of reference for what a Group export returns; the harness
// judges every patient-level rule (members only, named members only,
// opted-out members never) by it, independently of how the server under
// test stores its data.
package compartment

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// PatientURL is the canonical of the R4 Patient CompartmentDefinition.
const PatientURL = "http://hl7.org/fhir/CompartmentDefinition/patient"

// coreSearchParameter is the canonical prefix of the base specification's
// search parameters: where an IG defines a parameter of the same code on
// the same type, the base one is what the CompartmentDefinition means.
const coreSearchParameter = "http://hl7.org/fhir/SearchParameter/"

// Definition is the Patient compartment: for each resource type in it, the
// element paths whose Patient references place a resource in a patient's
// compartment. It is immutable and safe for concurrent use.
type Definition struct {
	// Version is the CompartmentDefinition's version (4.0.1 for R4).
	Version string
	paths   map[string][]elementPath
	// header is the struct type Place decodes a resource into: its
	// identity and, as raw JSON, the first element of every path.
	header reflect.Type
	field  map[string]int // first path segment -> field index in header
}

// elementPath is a path of element names from the resource root, e.g.
// participant.actor.
type elementPath []string

// SearchParameter is what the definition needs of a SearchParameter.
type SearchParameter struct {
	URL        string   `json:"url"`
	Code       string   `json:"code"`
	Base       []string `json:"base"`
	Expression string   `json:"expression"`
}

// Load reads the Patient CompartmentDefinition and the SearchParameters its
// entries name from loaded FHIR packages (the R4 core package, or the R4
// examples package that stands in for it).
func Load(reg *packages.Registry) (*Definition, error) {
	if reg == nil {
		return nil, errors.New("no FHIR packages are loaded")
	}
	e, ok := reg.Lookup(PatientURL)
	if !ok || e.ResourceType != packages.TypeCompartmentDefinition {
		return nil, fmt.Errorf("no loaded package holds the CompartmentDefinition %s (it comes with the R4 package, hl7.fhir.r4.core 4.0.1)", PatientURL)
	}
	def, err := e.Raw()
	if err != nil {
		return nil, err
	}
	var params []SearchParameter
	for _, sp := range reg.Entries(packages.TypeSearchParameter) {
		raw, err := sp.Raw()
		if err != nil {
			return nil, err
		}
		var p SearchParameter
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("SearchParameter %s (%s): %w", sp.URL, sp.Package, err)
		}
		params = append(params, p)
	}
	return New(def, params)
}

// New builds the definition from a Patient CompartmentDefinition's JSON and
// the search parameters available. Every parameter the definition names
// must resolve to a search parameter of that type whose expression is a
// union of element paths (optionally restricted with
// .where(resolve() is Patient)); anything else is an error rather than a
// rule quietly dropped.
func New(compartmentDefinition []byte, params []SearchParameter) (*Definition, error) {
	var cd struct {
		ResourceType string `json:"resourceType"`
		URL          string `json:"url"`
		Version      string `json:"version"`
		Code         string `json:"code"`
		Resource     []struct {
			Code  string   `json:"code"`
			Param []string `json:"param"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(compartmentDefinition, &cd); err != nil {
		return nil, fmt.Errorf("the Patient CompartmentDefinition is not JSON: %w", err)
	}
	if cd.ResourceType != "CompartmentDefinition" || cd.Code != "Patient" {
		return nil, fmt.Errorf("%s is a %s for %q, not the Patient CompartmentDefinition", cd.URL, cd.ResourceType, cd.Code)
	}
	byCode := map[string][]SearchParameter{}
	for _, p := range params {
		byCode[p.Code] = append(byCode[p.Code], p)
	}
	d := &Definition{Version: cd.Version, paths: map[string][]elementPath{}}
	for _, r := range cd.Resource {
		if len(r.Param) == 0 {
			continue // a type the compartment does not hold
		}
		for _, code := range r.Param {
			sp, err := pick(byCode[code], r.Code, code)
			if err != nil {
				return nil, err
			}
			ps, err := pathsOf(sp, r.Code)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !slices.ContainsFunc(d.paths[r.Code], func(q elementPath) bool { return slices.Equal(p, q) }) {
					d.paths[r.Code] = append(d.paths[r.Code], p)
				}
			}
		}
	}
	if len(d.paths) == 0 {
		return nil, errors.New("the Patient CompartmentDefinition lists no resource type with a parameter")
	}
	d.buildHeader()
	return d, nil
}

// pick chooses the search parameter of a code that applies to a type,
// preferring the base specification's.
func pick(candidates []SearchParameter, typ, code string) (SearchParameter, error) {
	var found []SearchParameter
	for _, p := range candidates {
		if slices.Contains(p.Base, typ) {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return SearchParameter{}, fmt.Errorf("the Patient compartment names the %s search parameter %q, which no loaded package defines", typ, code)
	}
	for _, p := range found {
		if strings.HasPrefix(p.URL, coreSearchParameter) {
			return p, nil
		}
	}
	return found[0], nil
}

// pathsOf reads, from a search parameter's FHIRPath expression, the element
// paths that apply to typ. The expressions the compartment uses are unions
// of simple paths, some restricted to Patient targets; since only
// references to a Patient place a resource in a patient's compartment,
// that restriction adds nothing to what Place keeps.
func pathsOf(sp SearchParameter, typ string) ([]elementPath, error) {
	var out []elementPath
	for _, part := range strings.Split(sp.Expression, "|") {
		part = strings.TrimSpace(part)
		rest, ok := strings.CutPrefix(part, typ+".")
		if !ok {
			continue // another base type's path
		}
		rest = strings.TrimSuffix(rest, ".where(resolve() is Patient)")
		p := elementPath(strings.Split(rest, "."))
		for _, seg := range p {
			if !isElementName(seg) {
				return nil, fmt.Errorf("search parameter %s: %q is not a path of element names this package can follow", sp.URL, part)
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("search parameter %s has no path for %s in %q", sp.URL, typ, sp.Expression)
	}
	return out, nil
}

func isElementName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// buildHeader makes the struct type Place decodes into: one raw field per
// first path segment, so that decoding a resource copies only the elements
// that can place it, not the whole resource.
func (d *Definition) buildHeader() {
	firsts := map[string]bool{}
	for _, ps := range d.paths {
		for _, p := range ps {
			firsts[p[0]] = true
		}
	}
	names := make([]string, 0, len(firsts))
	for n := range firsts {
		names = append(names, n)
	}
	slices.Sort(names)
	fields := []reflect.StructField{
		{Name: "ResourceType", Type: reflect.TypeFor[string](), Tag: `json:"resourceType"`},
		{Name: "ID", Type: reflect.TypeFor[string](), Tag: `json:"id"`},
		{Name: "Meta", Type: reflect.TypeFor[meta](), Tag: `json:"meta"`},
	}
	d.field = map[string]int{}
	for i, n := range names {
		d.field[n] = len(fields)
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("E%d", i), Type: reflect.TypeFor[json.RawMessage](), Tag: reflect.StructTag(`json:"` + n + `"`),
		})
	}
	d.header = reflect.StructOf(fields)
}

type meta struct {
	LastUpdated string `json:"lastUpdated"`
}

// Has reports whether resources of a type can belong to a patient's
// compartment at all (Patient does: its own).
func (d *Definition) Has(typ string) bool {
	_, ok := d.paths[typ]
	return ok || typ == "Patient"
}

// Types lists the resource types the compartment holds, sorted.
func (d *Definition) Types() []string {
	out := make([]string, 0, len(d.paths))
	for t := range d.paths {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Placement is where one resource belongs.
type Placement struct {
	Type, ID string
	// LastUpdated is meta.lastUpdated as written ("" when absent).
	LastUpdated string
	// Patients are the ids of the patients whose compartments hold the
	// resource, in the order the definition's paths find them, each once:
	// a Patient's own id first. Empty for a resource in no patient's
	// compartment (an Organization, or an Observation about a Device).
	Patients []string
}

// Place reads a resource's identity and the patients whose compartments
// hold it, in one decode that copies only the elements it needs. The error
// is for a line that is not a JSON object.
func (d *Definition) Place(raw []byte) (Placement, error) {
	h := reflect.New(d.header)
	if err := json.Unmarshal(raw, h.Interface()); err != nil {
		return Placement{}, err
	}
	v := h.Elem()
	pl := Placement{Type: v.Field(0).String(), ID: v.Field(1).String(), LastUpdated: v.Field(2).Interface().(meta).LastUpdated}
	add := func(id string) {
		if !slices.Contains(pl.Patients, id) {
			pl.Patients = append(pl.Patients, id)
		}
	}
	if pl.Type == "Patient" && pl.ID != "" {
		// The compartment's focal resource is in its own compartment.
		add(pl.ID)
	}
	for _, p := range d.paths[pl.Type] {
		first := v.Field(d.field[p[0]]).Interface().(json.RawMessage)
		if len(first) == 0 {
			continue
		}
		var node any
		if json.Unmarshal(first, &node) != nil {
			continue // not an element of the expected shape: it places nothing
		}
		walk(node, p[1:], func(ref string) {
			if id, ok := PatientID(ref); ok {
				add(id)
			}
		})
	}
	return pl, nil
}

// walk follows a path down objects and arrays (FHIR repeats elements as
// arrays) and calls fn with the reference of every Reference at its end.
func walk(node any, rest elementPath, fn func(ref string)) {
	switch n := node.(type) {
	case []any:
		for _, x := range n {
			walk(x, rest, fn)
		}
	case map[string]any:
		if len(rest) == 0 {
			if ref, ok := n["reference"].(string); ok {
				fn(ref)
			}
			return
		}
		if next, ok := n[rest[0]]; ok {
			walk(next, rest[1:], fn)
		}
	}
}

// PatientID reads the id of a literal reference to a Patient: relative
// ("Patient/x"), absolute (".../Patient/x") or versioned
// ("Patient/x/_history/2"). Contained (#x) and other references are not.
func PatientID(ref string) (string, bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id := ref[i+len("Patient/"):]
	if id == "" || strings.ContainsAny(id, "/?#") {
		return "", false
	}
	return id, true
}
