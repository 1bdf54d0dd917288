package profile

import "strings"

// Definitions refer to each other (contentReference, type profiles, the
// base definitions of data types). These are resolved at first use and
// remembered on the element, so the walk pays for a lookup once per
// element, not per value.

const coreSD = "http://hl7.org/fhir/StructureDefinition/"

// resolve fills the lazily computed fields of an element.
func (v *Validator) resolve(e *elem) {
	e.once.Do(func() {
		e.ref = e
		if e.contentRef != "" {
			if t := v.contentTarget(e); t != nil {
				e.ref = t
			}
		}
		types := e.ref.types
		e.typePlans = make(map[string]*plan, len(types))
		for _, t := range types {
			if t.code == "BackboneElement" || t.code == "Element" {
				continue
			}
			if isPrimitive(t.code) {
				if p, _ := v.basePlan(t.code); p != nil {
					e.typePlans[t.code] = p
				}
				continue
			}
			var p *plan
			for _, prof := range t.profiles {
				if p, _ = v.planFor(prof); p != nil {
					break
				}
			}
			if p == nil && len(t.profiles) > 0 && t.code != "Extension" {
				// A type profile that is not loaded: check the base type.
				if e.typeErr == nil {
					e.typeErr = map[string]string{}
				}
				e.typeErr[t.code] = "profile " + strings.Join(t.profiles, ", ") + " is not loaded"
			}
			if p == nil && !(t.code == "Extension" && len(t.profiles) > 0) {
				p, _ = v.basePlan(t.code)
			}
			if p != nil {
				e.typePlans[t.code] = p
			}
		}
		e.refSet = v.computeTargets(e.ref)
		e.invByType = map[string][]*invariant{}
		if e == e.plan.root {
			e.invByType[e.plan.sd.Type] = mergeInvariants(e.invs)
		}
		for _, t := range types {
			var root []*invariant
			if p := e.typePlans[t.code]; p != nil {
				root = p.root.invs
			}
			if e.ref != e {
				e.invByType[t.code] = mergeInvariants(e.invs, e.ref.invs, root)
			} else {
				e.invByType[t.code] = mergeInvariants(e.invs, root)
			}
		}
	})
}

// contentTarget finds the element a contentReference points to: "#path"
// within the same definition, or "url#path" in another.
func (v *Validator) contentTarget(e *elem) *elem {
	url, path, ok := strings.Cut(e.contentRef, "#")
	if !ok {
		return nil
	}
	p := e.plan
	if url != "" && url != p.baseURL {
		q, _ := v.planFor(url)
		if q == nil {
			return nil
		}
		p = q
	}
	if t := p.byID[path]; t != nil {
		return t
	}
	return nil
}

// target returns the element whose content (types, children) applies to e:
// itself, or the target of its contentReference.
func (v *Validator) target(e *elem) *elem {
	v.resolve(e)
	return e.ref
}

// childrenFor returns the element whose children describe a complex value
// of element e with type typ, and the plan of that type (whose root
// invariants also apply). holder is nil when the type is not loaded.
func (v *Validator) childrenFor(e, def *elem, typ string, obj map[string]any) (*elem, *plan) {
	v.resolve(e)
	tp := e.typePlans[typ]
	if tp == nil && def != e {
		v.resolve(def)
		tp = def.typePlans[typ]
	}
	if typ == "Extension" && len(def.children) == 0 && !e.extProfiled() {
		// A generic extension: its definition comes from its url.
		tp = nil
		if url, _ := obj["url"].(string); url != "" {
			if p, _ := v.planFor(url); p != nil && p.sd.Type == "Extension" {
				tp = p
			}
		}
		if tp == nil {
			return nil, nil
		}
	}
	if len(def.children) > 0 {
		return def, tp
	}
	if tp != nil && len(tp.root.children) > 0 {
		return tp.root, tp
	}
	if tp == nil {
		return nil, nil
	}
	return tp.root, tp
}

// genericType returns the root element and plan of a type's base
// definition.
func (v *Validator) genericType(typ string) (*elem, *plan) {
	p, _ := v.basePlan(typ)
	if p == nil {
		return nil, nil
	}
	return p.root, p
}

// defChildren returns the children describing element e's content: its
// snapshot children, or those of its (single or given) type.
func (v *Validator) defChildren(e *elem, typ string) []*elem {
	def := v.target(e)
	if len(def.children) > 0 {
		return def.children
	}
	if typ == "" && len(def.types) > 0 {
		typ = def.types[0].code
	}
	v.resolve(def)
	if p := def.typePlans[typ]; p != nil {
		return p.root.children
	}
	if e != def {
		if p := e.typePlans[typ]; p != nil {
			return p.root.children
		}
	}
	return nil
}

// mergeInvariants joins invariant lists, keeping the first of each key.
func mergeInvariants(lists ...[]*invariant) []*invariant {
	var out []*invariant
	for _, l := range lists {
		for _, inv := range l {
			dup := false
			for _, o := range out {
				if o.key == inv.key {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, inv)
			}
		}
	}
	return out
}

// extProfiled reports whether an Extension element names the definition
// its values must meet (an extension slice), rather than taking it from
// each value's url.
func (e *elem) extProfiled() bool {
	for _, t := range e.types {
		if t.code == "Extension" && len(t.profiles) > 0 {
			return true
		}
	}
	return false
}

// baseOf returns the element of base FHIR R4 that e derives from (found by
// ElementDefinition.base.path in the base definition of its first
// segment): e itself in a base definition. It is what tells a profile's
// narrowing (an error against the profile) from a breach of R4 itself (a
// structural error). nil when the base element cannot be found.
func (v *Validator) baseOf(e *elem) *elem {
	e.baseOnce.Do(func() {
		if e.plan.core {
			e.baseEl = e
			return
		}
		typ, _, _ := strings.Cut(e.basePath, ".")
		if p, _ := v.basePlan(typ); p != nil {
			e.baseEl = p.byID[e.basePath]
		}
	})
	return e.baseEl
}

// primitiveMax returns the maximum length, in characters, that the
// definition p of a primitive type sets on its values (string: 1 MiB,
// "FHIR strings SHALL NOT exceed 1MB"), inherited by the types derived
// from it; 0 when none.
func (v *Validator) primitiveMax(p *plan) int {
	if p == nil || p.sd.Kind != "primitive-type" {
		return 0
	}
	p.valueMaxOnce.Do(func() {
		for q, depth := p, 0; q != nil && depth < 8; depth++ {
			if e := q.byID[q.sd.Type+".value"]; e != nil && e.maxLength > 0 {
				p.valueMaxLen = e.maxLength
				return
			}
			parent, ok := strings.CutPrefix(q.sd.BaseDefinition, coreSD)
			if !ok || parent == "Element" {
				return
			}
			q, _ = v.basePlan(parent)
		}
	})
	return p.valueMaxLen
}

// allowsType reports whether an element allows a type code.
func (e *elem) allowsType(code string) bool {
	for _, t := range e.types {
		if t.code == code || t.code == "Resource" || t.code == "DomainResource" {
			return true
		}
	}
	return false
}
