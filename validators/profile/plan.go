package profile

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// A plan is a StructureDefinition compiled for validation: its snapshot as
// a tree of elements with their children, slices, bindings and invariants
// worked out once, so that validating a resource is a walk over the JSON
// with map lookups and no re-reading of definitions.
type plan struct {
	url     string // canonical, versioned: url|version
	baseURL string // canonical without version
	sd      *packages.StructureDefinition
	root    *elem
	byID    map[string]*elem
	// core marks a base definition of FHIR R4 (a resource, data type or
	// primitive), as opposed to a profile: its elements are their own
	// base.
	core bool
	// valueMaxLen is, for a primitive type, the maxLength of its value
	// element, inherited along baseDefinition (string's 1 MiB applies to
	// code, id and markdown); 0 when none. Set by Validator.primitiveMax.
	valueMaxLen  int
	valueMaxOnce sync.Once
}

// typeRef is one allowed type of an element.
type typeRef struct {
	code     string   // FHIR type code: "string", "Quantity", "Resource"
	profiles []string // profiles the value must meet (type profiles)
	targets  []string // target profiles of a Reference or canonical
}

// elem is a compiled ElementDefinition.
type elem struct {
	plan      *plan
	id        string
	path      string
	name      string // last path segment: "value[x]"
	jsonName  string // name without [x]: "value"
	sliceName string
	min       int
	max       int // -1: unbounded
	// basePath, baseMin and baseMax are the element's original definition
	// in base FHIR (ElementDefinition.base): the bounds that base R4
	// itself sets, which a profile may only narrow.
	basePath string
	baseMin  int
	baseMax  int
	array    bool
	choice   bool
	types    []typeRef
	typ      string // the only type, for elements that are not choices
	// JSON property names, computed once: "_name" for a primitive, and
	// "valueQuantity"/"_valueString" for each type of a choice.
	extKey        string
	choiceKeys    []string
	choiceExtKeys []string
	fixed         any
	fixedType     string
	pattern       any
	patType       string
	binding       *packages.Binding
	invs          []*invariant
	mustSup       bool
	maxLength     int

	slicing *packages.Slicing
	slices  []*elem

	// children are the snapshot's children of this element; byJSON maps
	// each JSON property name they allow to the child and its type.
	children []*elem
	byJSON   map[string]childRef
	// choiceBase maps the base name of each choice child ("value") to it,
	// to tell a disallowed type from an unknown element.
	choiceBase map[string]*elem

	contentRef string

	// resolved lazily, once, at first use (plans are shared by goroutines)
	once      sync.Once
	ref       *elem            // contentReference target
	typePlans map[string]*plan // type code -> plan of its (profiled) type
	typeErr   map[string]string
	discOnce  sync.Once
	discs     [][]discMatcher // per slice, its discriminators
	discErr   []string        // per slice, why it cannot be matched
	refSet    targetSet
	// invariants to evaluate on a value, by type: the element's own, its
	// content reference target's and its type's root's, without repeats
	invByType map[string][]*invariant
	vsOnce    sync.Once
	vs        *vsIndex
	baseOnce  sync.Once
	baseEl    *elem // the element of the base definition e derives from
}

// childRef is what a JSON property name stands for.
type childRef struct {
	e   *elem
	typ string // the type the name selects (for choices) or the only type
	ext bool   // "_name": the id/extensions of a primitive
	idx int    // position of e among its parent's children
}

// targetSet is the resource types a Reference may point to.
type targetSet struct {
	any   bool
	types map[string]bool
	names string // for messages
}

// isPrimitive reports whether a type code is a FHIR primitive type. (A
// switch: this is asked for every value validated.)
func isPrimitive(t string) bool {
	switch t {
	case "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary",
		"instant", "date", "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt",
		"positiveInt", "uuid", "xhtml":
		return true
	}
	return false
}

// systemTypes maps the FHIRPath system types used for id, url and value
// elements to FHIR primitives, when no fhir-type extension says better.
var systemTypes = map[string]string{
	"http://hl7.org/fhirpath/System.String":   "string",
	"http://hl7.org/fhirpath/System.Boolean":  "boolean",
	"http://hl7.org/fhirpath/System.Integer":  "integer",
	"http://hl7.org/fhirpath/System.Decimal":  "decimal",
	"http://hl7.org/fhirpath/System.Date":     "date",
	"http://hl7.org/fhirpath/System.DateTime": "dateTime",
	"http://hl7.org/fhirpath/System.Time":     "time",
}

const fhirTypeExt = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

func typeCode(t packages.TypeRef) string {
	if st, ok := systemTypes[t.Code]; ok {
		for _, x := range t.Extension {
			if x.URL == fhirTypeExt {
				if v := x.ValueURL + x.ValueURI + x.ValueString; v != "" {
					return v
				}
			}
		}
		return st
	}
	return t.Code
}

// compile builds the plan of a StructureDefinition.
func compile(sd *packages.StructureDefinition, cache *exprCache) (*plan, error) {
	if len(sd.Snapshot.Element) == 0 {
		return nil, fmt.Errorf("StructureDefinition %s has no snapshot", sd.URL)
	}
	p := &plan{url: sd.URL, baseURL: sd.URL, sd: sd, byID: make(map[string]*elem, len(sd.Snapshot.Element)),
		core: strings.HasPrefix(sd.URL, coreSD) && sd.Derivation != "constraint"}
	if sd.Version != "" {
		p.url = sd.URL + "|" + sd.Version
	}
	for i := range sd.Snapshot.Element {
		ed := &sd.Snapshot.Element[i]
		e := newElem(p, ed, cache)
		if i == 0 {
			p.root = e
			p.byID[ed.ID] = e
			continue
		}
		parentID, last := splitID(ed.ID)
		if base, _, ok := strings.Cut(last, ":"); ok {
			// A slice: it belongs to the element it slices, its sibling.
			bid := base
			if parentID != "" {
				bid = parentID + "." + base
			}
			if be := p.byID[bid]; be != nil {
				be.slices = append(be.slices, e)
			}
		} else if parent := p.byID[parentID]; parent != nil {
			parent.children = append(parent.children, e)
		}
		p.byID[ed.ID] = e
	}
	if p.root == nil {
		return nil, fmt.Errorf("StructureDefinition %s: empty snapshot", sd.URL)
	}
	for _, e := range p.byID {
		e.index()
	}
	return p, nil
}

// splitID splits an element id into its parent's id and its last segment.
// (No shipped profile uses a slice name with a dot, so the last dot is the
// split point.)
func splitID(id string) (string, string) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return "", id
	}
	return id[:i], id[i+1:]
}

func newElem(p *plan, ed *packages.ElementDefinition, cache *exprCache) *elem {
	name := ed.Path
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	e := &elem{
		plan:       p,
		id:         ed.ID,
		path:       ed.Path,
		name:       name,
		jsonName:   strings.TrimSuffix(name, "[x]"),
		sliceName:  ed.SliceName,
		min:        ed.Min,
		max:        parseMax(ed.Max),
		choice:     strings.HasSuffix(name, "[x]"),
		fixed:      ed.Fixed,
		fixedType:  ed.FixedType,
		pattern:    ed.Pattern,
		patType:    ed.PatternType,
		mustSup:    ed.MustSupport,
		maxLength:  ed.MaxLength,
		slicing:    ed.Slicing,
		contentRef: ed.ContentReference,
	}
	baseMax := ed.Base.Max
	if baseMax == "" {
		baseMax = ed.Max
	}
	e.array = baseMax != "1" && baseMax != "0"
	e.basePath, e.baseMin, e.baseMax = ed.Base.Path, ed.Base.Min, parseMax(baseMax)
	if e.basePath == "" {
		e.basePath, e.baseMin = ed.Path, ed.Min
	}
	for _, t := range ed.Type {
		code := typeCode(t)
		if ed.Base.Path == "Resource.id" && code == "string" {
			// R4's snapshots type a resource's logical id as a string (a
			// System.String with fhir-type "string"); resource.html and
			// the id data type page make it an id ([A-Za-z0-9\-\.]{1,64}),
			// as later releases' definitions do. The id rule applies.
			code = "id"
		}
		e.types = append(e.types, typeRef{code: code, profiles: t.Profile, targets: t.TargetProfile})
	}
	if e.choice {
		for _, t := range e.types {
			key := e.jsonName + upperFirst(t.code)
			e.choiceKeys = append(e.choiceKeys, key)
			if isPrimitive(t.code) {
				e.choiceExtKeys = append(e.choiceExtKeys, "_"+key)
			} else {
				e.choiceExtKeys = append(e.choiceExtKeys, "")
			}
		}
	} else if len(e.types) > 0 {
		e.typ = e.types[0].code
		if isPrimitive(e.typ) {
			e.extKey = "_" + e.jsonName
		}
	}
	if ed.Binding != nil && ed.Binding.ValueSet != "" && (ed.Binding.Strength == "required" || ed.Binding.Strength == "extensible") {
		e.binding = ed.Binding
	}
	for _, c := range ed.Constraint {
		if c.Expression == "" {
			continue
		}
		e.invs = append(e.invs, cache.invariant(c))
	}
	return e
}

func parseMax(s string) int {
	if s == "*" || s == "" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// index builds the JSON property map of an element's snapshot children.
func (e *elem) index() {
	if len(e.children) == 0 {
		return
	}
	e.byJSON = make(map[string]childRef, 2*len(e.children))
	for i, c := range e.children {
		if c.choice {
			if e.choiceBase == nil {
				e.choiceBase = map[string]*elem{}
			}
			e.choiceBase[c.jsonName] = c
			for j, t := range c.types {
				e.byJSON[c.choiceKeys[j]] = childRef{e: c, typ: t.code, idx: i}
				if c.choiceExtKeys[j] != "" {
					e.byJSON[c.choiceExtKeys[j]] = childRef{e: c, typ: t.code, ext: true, idx: i}
				}
			}
			continue
		}
		e.byJSON[c.jsonName] = childRef{e: c, typ: c.typ, idx: i}
		if c.extKey != "" {
			e.byJSON[c.extKey] = childRef{e: c, typ: c.typ, ext: true, idx: i}
		}
	}
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// typeOf returns the typeRef of an element for a type code.
func (e *elem) typeOf(code string) (typeRef, bool) {
	for _, t := range e.types {
		if t.code == code {
			return t, true
		}
	}
	return typeRef{}, false
}
