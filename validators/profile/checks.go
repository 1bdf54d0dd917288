package profile

import (
	"sort"
	"strings"
)

// checkBinding checks a coded value against the required or extensible
// binding of its element. A value set that cannot be expanded here makes a
// required binding a warning ("not checked"), never a pass.
func (w *walker) checkBinding(e *elem, typ string, val any) {
	b := e.binding
	var in, known bool
	e.vsOnce.Do(func() { e.vs = w.v.terms.valueSet(b.ValueSet) })
	vs := e.vs
	switch typ {
	case "code", "string", "uri", "url", "canonical":
		s, _ := val.(string)
		in, known = vs.hasCode(s)
		if !in && formatShorthand(e.path, s) {
			in, known = true, true
		}
	case "Coding", "Quantity":
		m, _ := val.(map[string]any)
		code, _ := m["code"].(string)
		if code == "" {
			return
		}
		sys, _ := m["system"].(string)
		in, known = vs.hasCoding(sys, code)
		if in && vs.bySystemOnly(sys, code) {
			w.codeNotChecked(e, sys)
		}
	case "CodeableConcept":
		m, _ := val.(map[string]any)
		codings, _ := m["coding"].([]any)
		if len(codings) == 0 {
			if b.Strength == "required" {
				w.errorf("", e.id, "no code from the required value set %s (the CodeableConcept has no coding)", b.ValueSet)
			}
			return
		}
		known = true
		for _, c := range codings {
			cm, _ := c.(map[string]any)
			code, _ := cm["code"].(string)
			sys, _ := cm["system"].(string)
			i, k := vs.hasCoding(sys, code)
			if i {
				in = true
				if vs.bySystemOnly(sys, code) {
					w.codeNotChecked(e, sys)
				}
				break
			}
			known = known && k
		}
		known = known || in
	default:
		return
	}
	if !known {
		w.bindingNotChecked(e, vs)
		return
	}
	if in {
		return
	}
	if b.Strength == "required" {
		w.errorf("", e.id, "%s is not in the value set %s (required binding)", shownCode(typ, val), b.ValueSet)
	} else {
		w.warnf("", e.id, "%s is not in the value set %s (extensible binding)", shownCode(typ, val), b.ValueSet)
	}
}

// shownCode renders a coded value for a message.
func shownCode(typ string, val any) string {
	switch v := val.(type) {
	case string:
		return "'" + v + "'"
	case map[string]any:
		if typ == "CodeableConcept" {
			var parts []string
			cs, _ := v["coding"].([]any)
			for _, c := range cs {
				parts = append(parts, shownCode("Coding", c))
			}
			return strings.Join(parts, ", ")
		}
		sys, _ := v["system"].(string)
		code, _ := v["code"].(string)
		return sys + "#" + code
	}
	return compactJSON(val)
}

// reference checks that a Reference points to a resource type its element
// allows. A target profile allows the resource type it profiles; whether
// the referenced resource meets the profile is its own validation.
func (w *walker) reference(e *elem, obj map[string]any) {
	ref, _ := obj["reference"].(string)
	if ref == "" {
		return
	}
	ts := w.v.refTargets(e)
	if ts.any || strings.HasPrefix(ref, "#") {
		// local references are ref-1's business
		return
	}
	_, typ := w.resolveReference(ref)
	if typ == "" {
		return
	}
	if !ts.types[typ] {
		w.errorf(".reference", e.id, "reference to a %s is not allowed here (allowed: %s)", typ, ts.names)
	}
}

// refTargets returns the resource types a Reference element may point to.
func (v *Validator) refTargets(e *elem) targetSet {
	v.resolve(e)
	return e.refSet
}

// computeTargets works out the target resource types of an element's
// Reference type from its target profiles.
func (v *Validator) computeTargets(def *elem) targetSet {
	t, ok := def.typeOf("Reference")
	if !ok || len(t.targets) == 0 {
		return targetSet{any: true}
	}
	ts := targetSet{types: map[string]bool{}}
	for _, tp := range t.targets {
		typ := v.profileType(tp)
		if typ == "" || typ == "Resource" || typ == "DomainResource" {
			return targetSet{any: true}
		}
		ts.types[typ] = true
	}
	names := make([]string, 0, len(ts.types))
	for n := range ts.types {
		names = append(names, n)
	}
	sort.Strings(names)
	ts.names = strings.Join(names, ", ")
	return ts
}

// targetTypes lists the resource types a Reference element may point to,
// for type discriminators through resolve().
func (v *Validator) targetTypes(e *elem) []string {
	ts := v.refTargets(e)
	var out []string
	for t := range ts.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// profileType returns the type a profile constrains, from the index (no
// decoding), or from a core URL; "" when unknown.
func (v *Validator) profileType(canonical string) string {
	if en, ok := v.reg.Lookup(canonical); ok && en.Type != "" {
		return en.Type
	}
	url, _, _ := strings.Cut(canonical, "|")
	if name, ok := strings.CutPrefix(url, coreSD); ok && v.resourceTypes[name] {
		return name
	}
	return ""
}

// resolveReference finds what a reference points to: a contained resource
// ("#id"), a Bundle entry (by fullUrl or type and id), or at least the
// resource type named in a relative or absolute URL. It returns the
// resource when it is at hand, and its type when known.
func (w *walker) resolveReference(ref string) (map[string]any, string) {
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		for _, res := range []map[string]any{w.curRes, w.rootRes} {
			cs, _ := res["contained"].([]any)
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				if cm["id"] == id {
					rt, _ := cm["resourceType"].(string)
					return cm, rt
				}
			}
		}
		return nil, ""
	}
	if idx := w.bundleIndex(); idx != nil {
		if res := idx[ref]; res != nil {
			rt, _ := res["resourceType"].(string)
			return res, rt
		}
	}
	if strings.HasPrefix(ref, "urn:") {
		return nil, ""
	}
	r := ref
	if i := strings.Index(r, "/_history/"); i >= 0 {
		r = r[:i]
	}
	if i := strings.IndexAny(r, "?#"); i >= 0 {
		r = r[:i]
	}
	parts := strings.Split(r, "/")
	if len(parts) < 2 {
		return nil, ""
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	if !w.v.resourceTypes[typ] {
		return nil, ""
	}
	if idx := w.bundleIndex(); idx != nil {
		if res := idx[typ+"/"+id]; res != nil {
			return res, typ
		}
	}
	return nil, typ
}

// bundleIndex maps the fullUrls and type/id of the outermost Bundle's
// entries to their resources, built on first use (a Bundle's references
// are resolved against it, and it may hold thousands of entries).
func (w *walker) bundleIndex() map[string]map[string]any {
	if w.bundle == nil {
		return nil
	}
	if w.bundleIdx != nil {
		return w.bundleIdx
	}
	es, _ := w.bundle["entry"].([]any)
	w.bundleIdx = make(map[string]map[string]any, 2*len(es))
	for _, en := range es {
		em, _ := en.(map[string]any)
		res, _ := em["resource"].(map[string]any)
		if res == nil {
			continue
		}
		if full, _ := em["fullUrl"].(string); full != "" {
			if _, dup := w.bundleIdx[full]; !dup {
				w.bundleIdx[full] = res
			}
		}
		rt, _ := res["resourceType"].(string)
		id, _ := res["id"].(string)
		if rt != "" && id != "" {
			if _, dup := w.bundleIdx[rt+"/"+id]; !dup {
				w.bundleIdx[rt+"/"+id] = res
			}
		}
	}
	return w.bundleIdx
}
