package profile

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
)

// walker validates one resource. It is not shared between goroutines.
type walker struct {
	v   *Validator
	res *Result

	prof    string         // canonical of the plan being walked, for issues
	curRes  map[string]any // the resource being walked (FHIRPath %resource)
	rootRes map[string]any // the container of contained resources (%rootResource)
	bundle  map[string]any // the outermost Bundle, for resolving its references
	isBase  bool           // walking a base definition, not a profile

	// quiet walkers only count errors: they decide whether a value
	// conforms to a profile (profile discriminators).
	quiet  bool
	errors int
}

func (w *walker) issue(sev validators.Severity, path, msg, rule, profile string) {
	if w.quiet {
		if sev == validators.Error {
			w.errors++
		}
		return
	}
	if profile == "" {
		profile = w.prof
	}
	w.res.Issues = append(w.res.Issues, validators.Issue{Severity: sev, Path: path, Message: msg, Rule: rule, Profile: profile})
}

func (w *walker) errorf(path, rule, format string, args ...any) {
	if w.quiet {
		w.errors++
		return
	}
	w.issue(validators.Error, path, fmt.Sprintf(format, args...), rule, "")
}

func (w *walker) warnf(path, rule, format string, args ...any) {
	if w.quiet {
		return
	}
	w.issue(validators.Warning, path, fmt.Sprintf(format, args...), rule, "")
}

// resource validates a resource (top-level or nested) against the base
// definition of its type, or against the profiles it is asked to meet or
// claims. A profile's snapshot holds everything its base does, so when a
// profile is checked the base need not be walked as well.
func (w *walker) resource(obj map[string]any, rt, path string, asked []string, top, contained bool) {
	base, err := w.v.basePlan(rt)
	if base == nil {
		if err != nil {
			w.errorf(path, "Resource.resourceType", "cannot check resource type %q: %v", rt, err)
		} else {
			w.errorf(path, "Resource.resourceType", "unknown resource type %q", rt)
		}
		return
	}
	type checked struct {
		p    *plan
		name string
	}
	var plans []checked
	for _, c := range profileList(asked, obj["meta"]) {
		p, err := w.v.planFor(c)
		if err != nil {
			w.issue(validators.Error, path, fmt.Sprintf("profile %s cannot be used: %v", c, err), c, c)
			if top {
				w.res.NotRun = append(w.res.NotRun, c)
			}
			continue
		}
		if p == nil {
			url, version, versioned := strings.Cut(c, "|")
			if versioned {
				if alt, _ := w.v.planFor(url); alt != nil {
					w.issue(validators.Warning, path, fmt.Sprintf("profile %s is not loaded (version %s not found); checked against version %s", c, version, alt.sd.Version), c, c)
					p = alt
				}
			}
		}
		if p == nil {
			w.issue(validators.Warning, path, fmt.Sprintf("profile %s is not loaded: not checked", c), c, c)
			if top {
				w.res.NotRun = append(w.res.NotRun, c)
			}
			continue
		}
		if p.sd.Type != rt {
			w.issue(validators.Error, path, fmt.Sprintf("profile %s is for %s resources, not %s", c, p.sd.Type, rt), c, c)
			if top {
				w.res.Checked = append(w.res.Checked, c)
			}
			continue
		}
		dup := false
		for _, q := range plans {
			dup = dup || q.p == p
		}
		if !dup {
			plans = append(plans, checked{p, c})
		}
	}
	if top {
		w.res.Checked = append([]string{base.url}, w.res.Checked...)
		for _, q := range plans {
			w.res.Checked = append(w.res.Checked, q.name)
		}
	}
	saveProf, saveRes, saveBase, saveRoot := w.prof, w.curRes, w.isBase, w.rootRes
	w.curRes = obj
	// A contained resource keeps its container as %rootResource; a
	// resource in a Bundle entry or a Parameters parameter is its own.
	if w.rootRes == nil || !contained {
		w.rootRes = obj
	}
	if w.bundle == nil && rt == "Bundle" {
		w.bundle = obj
		defer func() { w.bundle = nil }()
	}
	if len(plans) == 0 {
		plans = append(plans, checked{base, base.url})
	}
	for _, q := range plans {
		w.prof = q.p.url
		w.isBase = q.p == base
		w.value(q.p.root, rt, obj, nil, path)
	}
	w.prof, w.curRes, w.isBase, w.rootRes = saveProf, saveRes, saveBase, saveRoot
}

// occ is one occurrence of an element in the JSON: its value and, for
// primitives, the "_name" object with its id and extensions.
type occ struct {
	val  any
	ext  any
	typ  string
	path string
}

// value validates one occurrence of element e, of type typ.
func (w *walker) value(e *elem, typ string, val, ext any, path string) {
	def := w.v.target(e)
	if isPrimitive(typ) {
		w.primitive(e, def, typ, val, ext, path)
		return
	}
	obj, ok := val.(map[string]any)
	if !ok {
		if val == nil {
			w.errorf(path, e.id, "null is not a valid value")
		} else {
			w.errorf(path, e.id, "expected a JSON object for %s, found %s", typ, jsonKind(val))
		}
		return
	}
	if typ == "Resource" || typ == "DomainResource" || (w.v.resourceTypes[typ] && e != e.plan.root) {
		rt, _ := obj["resourceType"].(string)
		if rt == "" {
			w.errorf(path, e.id, "nested resource has no resourceType")
			return
		}
		if typ != "Resource" && typ != "DomainResource" && rt != typ {
			w.errorf(path, e.id, "a %s resource is not allowed here (expected %s)", rt, typ)
			return
		}
		var profiles []string
		if t, ok := e.typeOf(typ); ok {
			profiles = t.profiles
		}
		w.resource(obj, rt, path, profiles, false, e.jsonName == "contained")
		return
	}
	w.fixedPattern(e, obj, path)
	if e.binding != nil {
		w.checkBinding(e, typ, obj, path)
	}
	if typ == "Reference" {
		w.reference(e, obj, path)
	}
	holder, tplan := w.v.childrenFor(e, def, typ, obj)
	if holder == nil {
		if typ == "Extension" {
			w.unknownExtension(e, obj, path)
			holder, tplan = w.v.genericType("Extension")
		} else {
			w.warnf(path, e.id, "the definition of type %s is not loaded: content not checked", typ)
			return
		}
		if holder == nil {
			return
		}
	}
	w.object(holder, obj, path, e == e.plan.root && e.plan.sd.Kind == "resource")
	w.invariants(e, def, tplan, typ, obj, nil, path)
}

// unknownExtension reports an extension whose definition is not loaded.
func (w *walker) unknownExtension(e *elem, obj map[string]any, path string) {
	url, _ := obj["url"].(string)
	switch {
	case url == "":
		w.errorf(path, e.id, "extension has no url")
	case !strings.Contains(url, ":"):
		w.errorf(path, e.id, "extension url %q is not an absolute URI", url)
	case e.name == "modifierExtension":
		w.errorf(path, e.id, "modifier extension %s is not known: it cannot be ignored", url)
	default:
		w.warnf(path, e.id, "extension %s is not loaded: only its structure is checked", url)
	}
}

// object validates the properties of a JSON object against the children
// of holder.
func (w *walker) object(holder *elem, obj map[string]any, path string, resourceRoot bool) {
	var unknown []string
	for k := range obj {
		if _, ok := holder.byJSON[k]; ok {
			continue
		}
		if (k == "resourceType" && resourceRoot) || k == "fhir_comments" {
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		for _, k := range unknown {
			w.unknownProperty(holder, k, path)
		}
	}
	var buf [4]occ
	for _, c := range holder.children {
		occs := w.gather(c, obj, path, buf[:0])
		n := len(occs)
		if n < c.min {
			w.errorf(path+"."+c.name, c.id, "missing required element %s: minimum %d, found %d", c.name, c.min, n)
		}
		if c.max >= 0 && n > c.max {
			if c.max == 0 {
				w.errorf(occs[0].path, c.id, "element %s is not allowed here (max 0)", c.name)
			} else {
				w.errorf(path+"."+c.name, c.id, "too many %s: maximum %d, found %d", c.name, c.max, n)
			}
		}
		if n == 0 {
			if c.mustSup && !w.isBase {
				w.mustSupportMissing(c, path)
			}
			continue
		}
		if c.slicing != nil && len(c.slices) > 0 {
			w.sliced(c, occs, path)
			continue
		}
		for _, o := range occs {
			w.value(c, o.typ, o.val, o.ext, o.path)
		}
	}
}

func (w *walker) mustSupportMissing(c *elem, path string) {
	if w.quiet {
		return
	}
	for _, id := range w.res.MustSupportMissing {
		if id == c.id {
			return
		}
	}
	w.res.MustSupportMissing = append(w.res.MustSupportMissing, c.id)
	if w.v.opts.MustSupportInfo {
		w.issue(validators.Information, path+"."+c.name, fmt.Sprintf("must-support element %s is not present", c.name), c.id, "")
	}
}

// unknownProperty reports a JSON property the definition does not allow.
func (w *walker) unknownProperty(holder *elem, k, path string) {
	name := strings.TrimPrefix(k, "_")
	for base, c := range holder.choiceBase {
		if len(name) > len(base) && strings.HasPrefix(name, base) && name[len(base)] >= 'A' && name[len(base)] <= 'Z' {
			var allowed []string
			for _, t := range c.types {
				allowed = append(allowed, t.code)
			}
			w.errorf(path+"."+k, c.id, "type %s is not allowed for %s (allowed: %s)", name[len(base):], c.name, strings.Join(allowed, ", "))
			return
		}
	}
	if c, ok := holder.byJSON[name]; ok && strings.HasPrefix(k, "_") {
		w.errorf(path+"."+k, c.e.id, "%s is not a primitive element: %s is not allowed", name, k)
		return
	}
	w.errorf(path+"."+k, holder.id, "element %s is not allowed here (unknown element)", k)
}

// gather collects the occurrences of child c in obj, checking that arrays
// are used where the base definition repeats and only there.
func (w *walker) gather(c *elem, obj map[string]any, path string, out []occ) []occ {
	if c.choice {
		for _, t := range c.types {
			key := c.jsonName + upperFirst(t.code)
			val, okv := obj[key]
			var ext any
			oke := false
			if isPrimitive(t.code) {
				ext, oke = obj["_"+key]
			}
			if okv || oke {
				out = append(out, occ{val: val, ext: ext, typ: t.code, path: path + "." + key})
			}
		}
		return out
	}
	typ := ""
	if len(c.types) > 0 {
		typ = c.types[0].code
	} else if t := w.v.target(c); t != nil && len(t.types) > 0 {
		typ = t.types[0].code
	}
	val, okv := obj[c.jsonName]
	var ext any
	oke := false
	if isPrimitive(typ) {
		ext, oke = obj["_"+c.jsonName]
	}
	if !okv && !oke {
		return out
	}
	p := path + "." + c.jsonName
	if !c.array {
		if _, isArr := val.([]any); isArr {
			w.errorf(p, c.id, "%s must not be an array", c.jsonName)
			return out
		}
		if _, isArr := ext.([]any); isArr {
			w.errorf(p, c.id, "_%s must not be an array", c.jsonName)
			return out
		}
		return append(out, occ{val: val, ext: ext, typ: typ, path: p})
	}
	vals, okva := val.([]any)
	exts, okea := ext.([]any)
	if (okv && !okva) || (oke && !okea) {
		w.errorf(p, c.id, "%s must be an array", c.jsonName)
		return out
	}
	if okv && oke && len(vals) != len(exts) {
		w.errorf(p, c.id, "%s and _%s have different lengths", c.jsonName, c.jsonName)
	}
	n := max(len(vals), len(exts))
	if n == 0 {
		w.errorf(p, c.id, "%s is an empty array", c.jsonName)
		return out
	}
	for i := range n {
		var v, x any
		if i < len(vals) {
			v = vals[i]
		}
		if i < len(exts) {
			x = exts[i]
		}
		out = append(out, occ{val: v, ext: x, typ: typ, path: p + "[" + strconv.Itoa(i) + "]"})
	}
	return out
}

// primitive validates a primitive value and its "_name" object.
func (w *walker) primitive(e, def *elem, typ string, val, ext any, path string) {
	if val == nil && ext == nil {
		w.errorf(path, e.id, "null is not a valid value")
		return
	}
	if val != nil {
		if msg := checkPrimitive(typ, val); msg != "" {
			w.errorf(path, e.id, "%s", msg)
		} else {
			if e.maxLength > 0 {
				if s, ok := val.(string); ok && len([]rune(s)) > e.maxLength {
					w.errorf(path, e.id, "value is longer than the maximum length %d", e.maxLength)
				}
			}
			w.fixedPattern(e, val, path)
			if e.binding != nil {
				w.checkBinding(e, typ, val, path)
			}
		}
	}
	var tplan *plan
	if ext != nil {
		xo, ok := ext.(map[string]any)
		if !ok {
			w.errorf(path, e.id, "the _ object of a primitive must be a JSON object")
		} else if holder, tp := w.v.genericType(typ); holder != nil {
			tplan = tp
			w.object(holder, xo, path, false)
		}
	}
	if tplan == nil {
		_, tplan = w.v.genericType(typ)
	}
	w.invariants(e, def, tplan, typ, val, ext, path)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
