package profile

import (
	"fmt"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators/profile/fhirpath"
)

// step is one step of a discriminator path: an element name, or one of the
// functions discriminator paths may use.
type step struct {
	name string
	fn   string // "", "extension", "resolve", "ofType"
	arg  string
}

// discMatcher decides, for one discriminator of one slice, whether a value
// belongs to the slice.
type discMatcher struct {
	kind     string // "value" (fixed/pattern values), "binding", "exists", "type", "profile"
	steps    []step
	expect   []expected
	valueSet string
	exists   bool
	types    []string
	profiles []string
}

type expected struct {
	val     any
	pattern bool
}

type discTarget struct {
	e    *elem
	rest []step // path left to follow inside e's fixed or pattern value
}

// parseDiscriminatorPath splits a discriminator path ("code.coding",
// "extension('http://x.org/a.b').value", "resolve()", "$this") into steps.
func parseDiscriminatorPath(p string) ([]step, error) {
	if p == "$this" || p == "" {
		return nil, nil
	}
	var parts []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '.' && depth == 0:
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	parts = append(parts, p[start:])
	var out []step
	for _, part := range parts {
		if part == "$this" {
			continue
		}
		name, args, isFn := strings.Cut(part, "(")
		if !isFn {
			out = append(out, step{name: part})
			continue
		}
		args = strings.TrimSuffix(args, ")")
		args = strings.Trim(args, "'")
		switch name {
		case "extension", "resolve", "ofType":
			out = append(out, step{fn: name, arg: args})
		default:
			return nil, fmt.Errorf("function %s() in discriminator path %q is not supported", name, p)
		}
	}
	return out, nil
}

// compileDiscriminators works out, for each slice of c, how to recognise
// its members. A slice whose discriminators cannot be worked out gets an
// error message instead: its items are then not matched, and its
// cardinality not checked (and a warning says so).
func (v *Validator) compileDiscriminators(c *elem) {
	c.discOnce.Do(func() {
		c.discs = make([][]discMatcher, len(c.slices))
		c.discErr = make([]string, len(c.slices))
		for i, s := range c.slices {
			for _, d := range c.slicing.Discriminator {
				m, err := v.discriminator(s, d.Type, d.Path)
				if err != nil {
					c.discErr[i] = err.Error()
					break
				}
				c.discs[i] = append(c.discs[i], m)
			}
			if len(c.slicing.Discriminator) == 0 {
				c.discErr[i] = "slicing has no discriminator"
			}
		}
	})
}

func (v *Validator) discriminator(s *elem, kind, path string) (discMatcher, error) {
	steps, err := parseDiscriminatorPath(path)
	if err != nil {
		return discMatcher{}, err
	}
	m := discMatcher{kind: kind, steps: steps}
	// The url of an extension slice is the canonical of its definition,
	// whether or not that definition is loaded.
	if (kind == "value" || kind == "pattern") && len(steps) == 1 && steps[0].name == "url" {
		for _, t := range s.types {
			if t.code == "Extension" && len(t.profiles) > 0 {
				url, _, _ := strings.Cut(t.profiles[0], "|")
				m.kind = "value"
				m.expect = []expected{{val: url}}
				return m, nil
			}
		}
	}
	targets, err := v.discTargets(s, steps, "")
	if err != nil {
		return m, err
	}
	switch kind {
	case "value", "pattern":
		m.kind = "value"
		for _, t := range targets {
			switch {
			case t.e.fixed != nil:
				for _, x := range navigateJSON(t.e.fixed, t.rest) {
					m.expect = append(m.expect, expected{val: x, pattern: len(t.rest) > 0})
				}
			case t.e.pattern != nil:
				for _, x := range navigateJSON(t.e.pattern, t.rest) {
					m.expect = append(m.expect, expected{val: x, pattern: true})
				}
			case len(t.rest) == 0 && t.e.binding != nil && len(targets) == 1:
				m.kind = "binding"
				m.valueSet = t.e.binding.ValueSet
				return m, nil
			case len(t.rest) == 0:
				if p := v.synthPattern(t.e, 0); p != nil {
					m.expect = append(m.expect, expected{val: p, pattern: true})
				}
			}
		}
		if len(m.expect) == 0 {
			return m, fmt.Errorf("slice %s: no fixed value, pattern or binding at discriminator path %q", s.id, path)
		}
	case "exists":
		t := targets[0].e
		switch {
		case t.max == 0:
			m.exists = false
		case t.min >= 1:
			m.exists = true
		default:
			return m, fmt.Errorf("slice %s: exists discriminator %q on an optional element", s.id, path)
		}
	case "type":
		t := targets[0]
		if len(t.rest) > 0 && t.rest[0].fn == "resolve" {
			m.types = v.targetTypes(t.e)
		} else {
			for _, tr := range v.target(t.e).types {
				m.types = append(m.types, tr.code)
			}
		}
		if len(m.types) == 0 {
			return m, fmt.Errorf("slice %s: no type at discriminator path %q", s.id, path)
		}
	case "profile":
		t := targets[0]
		for _, tr := range v.target(t.e).types {
			if len(t.rest) > 0 && t.rest[0].fn == "resolve" {
				m.profiles = append(m.profiles, tr.targets...)
			} else {
				m.profiles = append(m.profiles, tr.profiles...)
			}
		}
		if len(m.profiles) == 0 {
			return m, fmt.Errorf("slice %s: no profile at discriminator path %q", s.id, path)
		}
		if len(t.rest) > 0 {
			return m, fmt.Errorf("slice %s: profile discriminator through resolve() needs the referenced resource", s.id)
		}
	default:
		return m, fmt.Errorf("slice %s: discriminator type %q is not supported", s.id, kind)
	}
	return m, nil
}

// discTargets follows a discriminator path through the definitions from a
// slice. Where the path enters a sliced element and its plain definition
// says nothing about the value, the required slices of that element are
// tried instead (a BP component's code.coding.code is fixed in its coding
// slice, not on coding itself).
func (v *Validator) discTargets(cur *elem, steps []step, typeHint string) ([]discTarget, error) {
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		switch st.fn {
		case "resolve":
			return []discTarget{{cur, steps[i:]}}, nil
		case "ofType":
			typeHint = st.arg
			continue
		case "extension":
			ext := findChild(v.defChildren(cur, typeHint), "extension")
			if ext == nil {
				return nil, fmt.Errorf("discriminator: %s has no extension element", cur.id)
			}
			var found *elem
			for _, sl := range ext.slices {
				for _, t := range sl.types {
					for _, p := range t.profiles {
						if u, _, _ := strings.Cut(p, "|"); u == st.arg {
							found = sl
						}
					}
				}
			}
			if found == nil {
				return nil, fmt.Errorf("discriminator: no slice of %s for extension %s", ext.id, st.arg)
			}
			cur, typeHint = found, ""
			continue
		}
		if cur.fixed != nil || cur.pattern != nil {
			return []discTarget{{cur, steps[i:]}}, nil
		}
		child := findChild(v.defChildren(cur, typeHint), st.name)
		if child == nil {
			return nil, fmt.Errorf("discriminator: %s has no element %s", cur.id, st.name)
		}
		typeHint = ""
		if len(child.slices) > 0 {
			main, err := v.discTargets(child, steps[i+1:], "")
			if err == nil && v.allHaveValue(main) {
				return main, nil
			}
			var alts []discTarget
			for _, sl := range child.slices {
				if sl.min < 1 {
					continue
				}
				if t, err := v.discTargets(sl, steps[i+1:], ""); err == nil && v.allHaveValue(t) {
					alts = append(alts, t...)
				}
			}
			if len(alts) > 0 {
				return alts, nil
			}
			return main, err
		}
		cur = child
	}
	return []discTarget{{cur, nil}}, nil
}

func (v *Validator) allHaveValue(ts []discTarget) bool {
	for _, t := range ts {
		if t.e.fixed == nil && t.e.pattern == nil && t.e.binding == nil && v.synthPattern(t.e, 0) == nil {
			return false
		}
	}
	return len(ts) > 0
}

func findChild(kids []*elem, name string) *elem {
	for _, k := range kids {
		if k.jsonName == name || k.name == name {
			return k
		}
	}
	return nil
}

// synthPattern builds a pattern from the fixed and pattern values of an
// element's descendants, for slices that constrain a discriminator's parts
// rather than the discriminator element itself.
func (v *Validator) synthPattern(e *elem, depth int) any {
	if depth > 4 {
		return nil
	}
	if e.fixed != nil {
		return e.fixed
	}
	if e.pattern != nil {
		return e.pattern
	}
	if len(e.children) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, c := range e.children {
		var val any
		if p := v.synthPattern(c, depth+1); p != nil {
			val = p
		} else if len(c.slices) > 0 {
			var items []any
			for _, sl := range c.slices {
				if sl.min >= 1 {
					if p := v.synthPattern(sl, depth+1); p != nil {
						items = append(items, p)
					}
				}
			}
			if len(items) > 0 {
				out[c.jsonName] = items
			}
			continue
		}
		if val == nil {
			continue
		}
		if c.array {
			if _, isArr := val.([]any); !isArr {
				val = []any{val}
			}
		}
		out[c.jsonName] = val
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// navigateJSON follows name steps inside a JSON value, flattening arrays.
func navigateJSON(v any, steps []step) []any {
	cur := []any{v}
	for _, st := range steps {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch x := m[st.name].(type) {
			case nil:
			case []any:
				next = append(next, x...)
			default:
				next = append(next, x)
			}
		}
		cur = next
	}
	return cur
}

// typedVal is a value met while following a discriminator path in an
// instance, with its FHIR type when known.
type typedVal struct {
	val any
	typ string
}

// navigate follows a discriminator path in an instance value.
func (w *walker) navigate(o occ, steps []step) []typedVal {
	// two buffers owned by the walker, swapped at each step: the result is
	// used before the next navigate
	cur := append(w.navA[:0], typedVal{o.val, o.typ})
	spare := w.navB[:0]
	for _, st := range steps {
		next := spare[:0]
		for _, c := range cur {
			switch st.fn {
			case "ofType":
				if c.typ == st.arg {
					next = append(next, c)
				}
				continue
			case "resolve":
				if m, ok := c.val.(map[string]any); ok {
					if ref, _ := m["reference"].(string); ref != "" {
						if obj, typ := w.resolveReference(ref); typ != "" {
							next = append(next, typedVal{obj, typ})
						}
					}
				}
				continue
			}
			m, ok := c.val.(map[string]any)
			if !ok {
				continue
			}
			if st.fn == "extension" {
				if exts, ok := m["extension"].([]any); ok {
					for _, x := range exts {
						if xm, ok := x.(map[string]any); ok && xm["url"] == st.arg {
							next = append(next, typedVal{xm, "Extension"})
						}
					}
				}
				continue
			}
			if x, ok := m[st.name]; ok {
				next = appendTyped(next, x, "")
				continue
			}
			// a choice element: value -> valueQuantity
			for k, x := range m {
				if len(k) > len(st.name) && strings.HasPrefix(k, st.name) && k[len(st.name)] >= 'A' && k[len(st.name)] <= 'Z' {
					next = appendTyped(next, x, lowerTypeName(k[len(st.name):]))
				}
			}
		}
		cur, spare = next, cur
	}
	w.navA, w.navB = cur, spare
	return cur
}

func appendTyped(out []typedVal, x any, typ string) []typedVal {
	switch y := x.(type) {
	case []any:
		for _, z := range y {
			out = append(out, typedVal{z, typeOfJSON(z, typ)})
		}
	default:
		out = append(out, typedVal{x, typeOfJSON(x, typ)})
	}
	return out
}

func typeOfJSON(v any, typ string) string {
	if typ != "" {
		return typ
	}
	if m, ok := v.(map[string]any); ok {
		if rt, ok := m["resourceType"].(string); ok {
			return rt
		}
	}
	return ""
}

// lowerTypeName turns the type suffix of a choice property into a type
// code: "Quantity" stays, "String" becomes "string", "DateTime" "dateTime".
func lowerTypeName(s string) string {
	l := strings.ToLower(s[:1]) + s[1:]
	if isPrimitive(l) {
		return l
	}
	return s
}

// sliced validates the occurrences of a sliced element: each is matched to
// a slice and validated against it, and each slice's cardinality checked.
func (w *walker) sliced(c *elem, occs []occ) {
	w.v.compileDiscriminators(c)
	var countBuf [8]int
	counts := countBuf[:0]
	for range c.slices {
		counts = append(counts, 0)
	}
	rules := c.slicing.Rules
	last, unmatchedSeen, orderReported := -1, false, false
	for j := range occs {
		o := occs[j]
		mark := w.push(&occs[j])
		si := -1
		for i := range c.slices {
			if c.discErr[i] == "" && w.matchSlice(c.discs[i], o) {
				si = i
				break
			}
		}
		if si < 0 {
			unmatchedSeen = true
			if rules == "closed" {
				w.errorf("", c.id, "this %s matches none of the slices of %s, and the slicing is closed", c.name, c.id)
			}
			w.value(c, o.typ, o.val, o.ext)
			w.pop(mark)
			continue
		}
		counts[si]++
		// order problems are reported once per element, at the first item
		// out of place
		if c.slicing.Ordered && si < last && !orderReported {
			w.errorf("", c.slices[si].id, "slice %s is out of order (slicing of %s is ordered)", c.slices[si].sliceName, c.id)
			orderReported = true
		}
		if rules == "openAtEnd" && unmatchedSeen && !orderReported {
			w.errorf("", c.id, "an item matching slice %s follows items matching no slice (open at end)", c.slices[si].sliceName)
			orderReported = true
		}
		last = si
		w.value(c.slices[si], o.typ, o.val, o.ext)
		w.pop(mark)
	}
	for i, s := range c.slices {
		if c.discErr[i] != "" {
			if s.min > 0 {
				w.warnf("."+c.name, s.id, "slice %s not checked: %s", s.sliceName, c.discErr[i])
			}
			continue
		}
		if counts[i] < s.min {
			w.errorf("."+c.name, s.id, "slice %s: minimum %d, found %d", s.sliceName, s.min, counts[i])
		}
		if s.max >= 0 && counts[i] > s.max {
			w.errorf("."+c.name, s.id, "slice %s: maximum %d, found %d", s.sliceName, s.max, counts[i])
		}
		if counts[i] == 0 && s.mustSup && !w.isBase {
			w.mustSupportMissing(s)
		}
	}
}

func (w *walker) matchSlice(ms []discMatcher, o occ) bool {
	for i := range ms {
		if !w.matchDisc(&ms[i], o) {
			return false
		}
	}
	return len(ms) > 0
}

func (w *walker) matchDisc(m *discMatcher, o occ) bool {
	vals := w.navigate(o, m.steps)
	switch m.kind {
	case "value":
		for _, e := range m.expect {
			found := false
			for _, v := range vals {
				if e.pattern && matchesPattern(e.val, v.val) || !e.pattern && fhirpath.JSONEqual(e.val, v.val) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case "binding":
		vs := w.v.terms.valueSet(m.valueSet)
		for _, v := range vals {
			if in, known := vs.contains(v.val, v.typ); in && known {
				return true
			}
		}
		return false
	case "exists":
		return (len(vals) > 0) == m.exists
	case "type":
		for _, v := range vals {
			for _, t := range m.types {
				if v.typ == t {
					return true
				}
			}
		}
		return false
	case "profile":
		for _, v := range vals {
			obj, ok := v.val.(map[string]any)
			if !ok {
				continue
			}
			for _, p := range m.profiles {
				if w.conforms(obj, v.typ, p) {
					return true
				}
			}
		}
		return false
	}
	return false
}

// conforms reports whether a value meets a profile, by validating it
// quietly.
func (w *walker) conforms(obj map[string]any, typ, profile string) bool {
	p, _ := w.v.planFor(profile)
	if p == nil {
		return false
	}
	q := &walker{v: w.v, res: &Result{}, quiet: true, rootRes: w.rootRes, bundle: w.bundle, bundleIdx: w.bundleIdx, prof: p.url}
	if rt, _ := obj["resourceType"].(string); rt != "" {
		if rt != p.sd.Type {
			return false
		}
		q.path = append(q.path, rt...)
		q.resource(obj, rt, []string{profile}, false, false)
	} else {
		q.curRes = w.curRes
		q.value(p.root, p.sd.Type, obj, nil)
	}
	return q.errors == 0
}
