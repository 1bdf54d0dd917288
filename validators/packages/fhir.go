package packages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The types below hold the parts of the FHIR R4 conformance resources that
// validation reads. Fields the validator never looks at (narrative,
// mappings, differentials) are not decoded.

// StructureDefinition is an R4 StructureDefinition, snapshot included.
type StructureDefinition struct {
	ResourceType   string    `json:"resourceType"`
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Version        string    `json:"version"`
	Name           string    `json:"name"`
	Status         string    `json:"status"`
	Kind           string    `json:"kind"`
	Abstract       bool      `json:"abstract"`
	Type           string    `json:"type"`
	BaseDefinition string    `json:"baseDefinition"`
	Derivation     string    `json:"derivation"`
	Context        []Context `json:"context"`
	Snapshot       struct {
		Element []ElementDefinition `json:"element"`
	} `json:"snapshot"`
}

// Context is where an extension may be used.
type Context struct {
	Type       string `json:"type"`
	Expression string `json:"expression"`
}

// ElementDefinition is one element of a snapshot.
type ElementDefinition struct {
	ID               string       `json:"id"`
	Path             string       `json:"path"`
	SliceName        string       `json:"sliceName"`
	Min              int          `json:"min"`
	Max              string       `json:"max"`
	Base             ElementBase  `json:"base"`
	ContentReference string       `json:"contentReference"`
	Type             []TypeRef    `json:"type"`
	Slicing          *Slicing     `json:"slicing"`
	Binding          *Binding     `json:"binding"`
	Constraint       []Constraint `json:"constraint"`
	MustSupport      bool         `json:"mustSupport"`
	IsModifier       bool         `json:"isModifier"`
	MaxLength        int          `json:"maxLength"`

	// FixedType and Fixed hold fixed[x] ("Uri", the value); PatternType and
	// Pattern hold pattern[x]. Values are decoded with json.Number for
	// numbers so that decimals keep their precision.
	FixedType   string `json:"-"`
	Fixed       any    `json:"-"`
	PatternType string `json:"-"`
	Pattern     any    `json:"-"`
}

// ElementBase says where an element was first defined, and its cardinality
// there: an element is an array in JSON when its base max is not 1.
type ElementBase struct {
	Path string `json:"path"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
}

// TypeRef is one allowed type of an element.
type TypeRef struct {
	Code          string      `json:"code"`
	Profile       []string    `json:"profile"`
	TargetProfile []string    `json:"targetProfile"`
	Extension     []Extension `json:"extension"`
}

// Extension is a simple extension on a definition (only string values are
// needed: the FHIR type of element ids, best-practice flags).
type Extension struct {
	URL          string `json:"url"`
	ValueURL     string `json:"valueUrl"`
	ValueURI     string `json:"valueUri"`
	ValueString  string `json:"valueString"`
	ValueBoolean bool   `json:"valueBoolean"`
}

// Slicing describes how the repetitions of an element are divided into
// slices.
type Slicing struct {
	Discriminator []Discriminator `json:"discriminator"`
	Ordered       bool            `json:"ordered"`
	Rules         string          `json:"rules"`
}

// Discriminator is one slicing discriminator.
type Discriminator struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// Binding ties a coded element to a value set.
type Binding struct {
	Strength string `json:"strength"`
	ValueSet string `json:"valueSet"`
}

// Constraint is an invariant with its FHIRPath expression.
type Constraint struct {
	Key        string      `json:"key"`
	Severity   string      `json:"severity"`
	Human      string      `json:"human"`
	Expression string      `json:"expression"`
	Source     string      `json:"source"`
	Extension  []Extension `json:"extension"`
}

// BestPractice reports whether the invariant is flagged as a best-practice
// recommendation rather than a rule.
func (c Constraint) BestPractice() bool {
	for _, e := range c.Extension {
		if e.URL == "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice" && e.ValueBoolean {
			return true
		}
	}
	return false
}

// UnmarshalJSON decodes an element definition, picking out fixed[x] and
// pattern[x], whose JSON names carry the type.
func (e *ElementDefinition) UnmarshalJSON(b []byte) error {
	type plain ElementDefinition
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"fixed`)) && !bytes.Contains(b, []byte(`"pattern`)) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, raw := range m {
		var dstType *string
		var dst *any
		switch {
		case strings.HasPrefix(k, "fixed") && len(k) > 5:
			dstType, dst = &e.FixedType, &e.Fixed
			*dstType = k[5:]
		case strings.HasPrefix(k, "pattern") && len(k) > 7:
			dstType, dst = &e.PatternType, &e.Pattern
			*dstType = k[7:]
		default:
			continue
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			return fmt.Errorf("element %s: %s: %w", e.ID, k, err)
		}
	}
	return nil
}

// ValueSet is an R4 ValueSet: its compose and, when present, its expansion.
type ValueSet struct {
	ResourceType string `json:"resourceType"`
	URL          string `json:"url"`
	Version      string `json:"version"`
	Name         string `json:"name"`
	Compose      *struct {
		Include []ConceptSet `json:"include"`
		Exclude []ConceptSet `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Total    *int                `json:"total"`
		Contains []ExpansionContains `json:"contains"`
	} `json:"expansion"`
}

// ConceptSet is one include or exclude of a value set compose.
type ConceptSet struct {
	System   string   `json:"system"`
	Version  string   `json:"version"`
	Concept  []Code   `json:"concept"`
	Filter   []Filter `json:"filter"`
	ValueSet []string `json:"valueSet"`
}

// Code is a code with its display.
type Code struct {
	Code    string `json:"code"`
	Display string `json:"display"`
}

// Filter is a property filter in a value set compose.
type Filter struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// ExpansionContains is one code of a value set expansion.
type ExpansionContains struct {
	System   string              `json:"system"`
	Code     string              `json:"code"`
	Abstract bool                `json:"abstract"`
	Contains []ExpansionContains `json:"contains"`
}

// CodeSystem is an R4 CodeSystem with its concept hierarchy.
type CodeSystem struct {
	ResourceType     string    `json:"resourceType"`
	URL              string    `json:"url"`
	Version          string    `json:"version"`
	Name             string    `json:"name"`
	Content          string    `json:"content"`
	CaseSensitive    *bool     `json:"caseSensitive"`
	HierarchyMeaning string    `json:"hierarchyMeaning"`
	ValueSet         string    `json:"valueSet"`
	Concept          []Concept `json:"concept"`
}

// Concept is a code of a code system, with its children.
type Concept struct {
	Code     string            `json:"code"`
	Display  string            `json:"display"`
	Concept  []Concept         `json:"concept"`
	Property []ConceptProperty `json:"property"`
}

// ConceptProperty is a property of a concept (used by value set filters).
type ConceptProperty struct {
	Code         string `json:"code"`
	ValueCode    string `json:"valueCode"`
	ValueString  string `json:"valueString"`
	ValueBoolean *bool  `json:"valueBoolean"`
	ValueCoding  *struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"valueCoding"`
}
