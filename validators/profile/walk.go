package profile

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/profile/fhirpath"
)

// walker validates one resource. It is not shared between goroutines.
type walker struct {
	v   *Validator
	res *Result

	prof      string         // canonical of the plan being walked, for issues
	curRes    map[string]any // the resource being walked (FHIRPath %resource)
	rootRes   map[string]any // the container of contained resources (%rootResource)
	bundle    map[string]any // the outermost Bundle, for resolving its references
	bundleIdx map[string]map[string]any
	isBase    bool   // walking a base definition, not a profile
	path      []byte // FHIRPath-like location of the value being walked

	env   *fhirpath.Env // reused by every invariant evaluation
	navA  []typedVal    // buffers of navigate
	navB  []typedVal
	focus [1]fhirpath.Item // the input collection of an evaluation

	// quiet walkers only count errors: they decide whether a value
	// conforms to a profile (profile discriminators).
	quiet  bool
	errors int

	// onlyAsked checks the top resource against the profiles asked for
	// alone, not those it claims (ValidateExpected weighs one acceptable
	// profile at a time).
	onlyAsked bool
}

// issue records a finding at the current path followed by suffix (such as
// ".name" for a child that is missing).
func (w *walker) issue(sev validators.Severity, suffix, msg, rule, profile string) {
	if w.quiet {
		if sev == validators.Error {
			w.errors++
		}
		return
	}
	if profile == "" {
		profile = w.prof
	}
	w.res.Issues = append(w.res.Issues, validators.Issue{Severity: sev, Path: string(w.path) + suffix, Message: msg, Rule: rule, Profile: profile})
}

func (w *walker) errorf(suffix, rule, format string, args ...any) {
	if w.quiet {
		w.errors++
		return
	}
	w.issue(validators.Error, suffix, fmt.Sprintf(format, args...), rule, "")
}

func (w *walker) warnf(suffix, rule, format string, args ...any) {
	if w.quiet {
		return
	}
	w.issue(validators.Warning, suffix, fmt.Sprintf(format, args...), rule, "")
}

// push appends an occurrence's step to the path; pop restores it. Paths
// are built on one reused buffer, and made into strings only for issues.
func (w *walker) push(o *occ) int {
	n := len(w.path)
	w.path = append(w.path, '.')
	w.path = append(w.path, o.key...)
	if o.idx >= 0 {
		w.path = append(w.path, '[')
		w.path = strconv.AppendInt(w.path, int64(o.idx), 10)
		w.path = append(w.path, ']')
	}
	return n
}

func (w *walker) pop(n int) { w.path = w.path[:n] }

// resource validates a resource (top-level or nested) against the base
// definition of its type, or against the profiles it is asked to meet or
// claims. A profile's snapshot holds everything its base does, so when a
// profile is checked the base need not be walked as well.
func (w *walker) resource(obj map[string]any, rt string, asked []string, top, contained bool) {
	base, err := w.v.basePlan(rt)
	if base == nil {
		if err != nil {
			w.errorf("", "Resource.resourceType", "cannot check resource type %q: %v", rt, err)
		} else {
			w.errorf("", "Resource.resourceType", "unknown resource type %q", rt)
		}
		return
	}
	type checked struct {
		p    *plan
		name string
	}
	var plans []checked
	claims := obj["meta"]
	if top && w.onlyAsked {
		claims = nil
	}
	for _, c := range profileList(asked, claims) {
		p, err := w.v.planFor(c)
		if err != nil {
			w.issue(validators.Error, "", fmt.Sprintf("profile %s cannot be used: %v", c, err), c, c)
			if top {
				w.res.NotRun = append(w.res.NotRun, c)
			}
			continue
		}
		if p == nil {
			url, version, versioned := strings.Cut(c, "|")
			if versioned {
				if alt, _ := w.v.planFor(url); alt != nil {
					w.issue(validators.Warning, "", fmt.Sprintf("profile %s is not loaded (version %s not found); checked against version %s", c, version, alt.sd.Version), c, c)
					p = alt
				}
			}
		}
		if p == nil {
			w.notLoaded(c)
			if top {
				w.res.NotRun = append(w.res.NotRun, c)
			}
			continue
		}
		if p.sd.Type != rt {
			w.issue(validators.Error, "", fmt.Sprintf("profile %s is for %s resources, not %s", c, p.sd.Type, rt), c, c)
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
		defer func() { w.bundle, w.bundleIdx = nil, nil }()
	}
	if len(plans) == 0 {
		plans = append(plans, checked{base, base.url})
	}
	for _, q := range plans {
		w.prof = q.p.url
		w.isBase = q.p == base
		w.value(q.p.root, rt, obj, nil)
	}
	if rt == "Bundle" {
		w.prof = base.url
		w.bundleFullURLs(obj)
	}
	w.prof, w.curRes, w.isBase, w.rootRes = saveProf, saveRes, saveBase, saveRoot
}

// occ is one occurrence of an element in the JSON: its value and, for
// primitives, the "_name" object with its id and extensions.
type occ struct {
	val any
	ext any
	typ string
	key string // JSON property name
	idx int    // index in the array, or -1
}

// value validates one occurrence of element e, of type typ.
func (w *walker) value(e *elem, typ string, val, ext any) {
	def := w.v.target(e)
	if isPrimitive(typ) {
		w.primitive(e, def, typ, val, ext)
		return
	}
	obj, ok := val.(map[string]any)
	if !ok {
		if val == nil {
			w.errorf("", e.id, "null is not a valid value")
		} else {
			w.errorf("", e.id, "expected a JSON object for %s, found %s", typ, jsonKind(val))
		}
		return
	}
	if typ == "Resource" || typ == "DomainResource" || (w.v.resourceTypes[typ] && e != e.plan.root) {
		rt, _ := obj["resourceType"].(string)
		if rt == "" {
			w.errorf("", e.id, "nested resource has no resourceType")
			return
		}
		if typ != "Resource" && typ != "DomainResource" && rt != typ {
			w.errorf("", e.id, "a %s resource is not allowed here (expected %s)", rt, typ)
			return
		}
		var profiles []string
		if t, ok := e.typeOf(typ); ok {
			profiles = t.profiles
		}
		w.resource(obj, rt, profiles, false, e.jsonName == "contained")
		return
	}
	w.fixedPattern(e, obj)
	if e.binding != nil {
		w.checkBinding(e, typ, obj)
	}
	if typ == "Reference" {
		w.reference(e, obj)
	}
	holder, tplan := w.v.childrenFor(e, def, typ, obj)
	if holder == nil {
		if typ == "Extension" {
			w.unknownExtension(e, obj)
			holder, tplan = w.v.genericType("Extension")
		} else {
			w.warnf("", e.id, "the definition of type %s is not loaded: content not checked", typ)
			return
		}
		if holder == nil {
			return
		}
	}
	w.object(holder, obj, e == e.plan.root && e.plan.sd.Kind == "resource")
	w.invariants(e, def, tplan, typ, obj, nil)
}

// unknownExtension reports an extension whose definition is not loaded.
func (w *walker) unknownExtension(e *elem, obj map[string]any) {
	url, _ := obj["url"].(string)
	switch {
	case url == "":
		// Extension.url (1..1) reports it
	case !strings.Contains(url, ":"):
		// a relative url names a part of a complex extension, which its
		// parent's definition describes
		if !strings.HasSuffix(e.path, "Extension.extension") {
			w.errorf("", e.id, "extension url %q is not an absolute URI", url)
		}
	case e.name == "modifierExtension":
		w.errorf("", e.id, "modifier extension %s is not known: it cannot be ignored", url)
	default:
		w.warnf("", e.id, "extension %s is not loaded: only its structure is checked", url)
	}
}

// object validates the properties of a JSON object against the children
// of holder.
func (w *walker) object(holder *elem, obj map[string]any, resourceRoot bool) {
	// Which children are present, and their values, are learnt from the
	// object's keys in one pass (a resource carries a fraction of the
	// elements its type defines).
	var slotBuf [48]slot
	slots := slotBuf[:]
	if len(holder.children) > len(slotBuf) {
		slots = make([]slot, len(holder.children))
	}
	var unknown []string
	for k, v := range obj {
		if ref, ok := holder.byJSON[k]; ok {
			sl := &slots[ref.idx]
			if ref.ext {
				sl.ext, sl.hasExt = v, true
			} else {
				sl.val, sl.hasVal = v, true
			}
			continue
		}
		if (k == "resourceType" && resourceRoot) || k == "fhir_comments" {
			continue
		}
		unknown = append(unknown, k)
	}
	// A value of a type its choice element does not allow still counts
	// as present: its one error says what is wrong with it.
	var wrongType []*elem
	if len(unknown) > 0 {
		sort.Strings(unknown)
		for _, k := range unknown {
			if c := w.unknownProperty(holder, k); c != nil {
				wrongType = append(wrongType, c)
			}
		}
	}
	var buf [4]occ
	for i, c := range holder.children {
		sl := &slots[i]
		if !sl.hasVal && !sl.hasExt {
			if slices.Contains(wrongType, c) {
				continue
			}
			if c.min > 0 {
				w.errorf("."+c.name, c.id, "missing required element %s: minimum %d, found 0", c.name, c.min)
			}
			if c.mustSup && !w.isBase {
				w.mustSupportMissing(c)
			}
			continue
		}
		var occs []occ
		var bad int
		if c.choice {
			occs = w.gatherChoice(c, obj, buf[:0])
		} else {
			occs, bad = w.gather(c, sl, buf[:0])
		}
		n := len(occs) + bad
		if n < c.min {
			w.errorf("."+c.name, c.id, "missing required element %s: minimum %d, found %d", c.name, c.min, n)
		}
		if c.max >= 0 && n > c.max {
			if c.max == 0 {
				mark := w.push(&occs[0])
				w.errorf("", c.id, "element %s is not allowed here (max 0)", c.name)
				w.pop(mark)
			} else {
				w.errorf("."+c.name, c.id, "too many %s: maximum %d, found %d", c.name, c.max, n)
			}
		}
		if len(occs) == 0 {
			continue
		}
		if c.slicing != nil && len(c.slices) > 0 {
			w.sliced(c, occs)
			continue
		}
		for j := range occs {
			mark := w.push(&occs[j])
			w.value(c, occs[j].typ, occs[j].val, occs[j].ext)
			w.pop(mark)
		}
	}
}

func (w *walker) mustSupportMissing(c *elem) {
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
		w.issue(validators.Information, "."+c.name, fmt.Sprintf("must-support element %s is not present", c.name), c.id, "")
	}
}

// unknownProperty reports a JSON property the definition does not allow.
// For a type a choice element does not allow, it returns that element.
func (w *walker) unknownProperty(holder *elem, k string) *elem {
	name := strings.TrimPrefix(k, "_")
	for base, c := range holder.choiceBase {
		if len(name) > len(base) && strings.HasPrefix(name, base) && name[len(base)] >= 'A' && name[len(base)] <= 'Z' {
			var allowed []string
			for _, t := range c.types {
				allowed = append(allowed, t.code)
			}
			w.errorf("."+k, c.id, "type %s is not allowed for %s (allowed: %s)", name[len(base):], c.name, strings.Join(allowed, ", "))
			return c
		}
	}
	if c, ok := holder.byJSON[name]; ok && strings.HasPrefix(k, "_") {
		w.errorf("."+k, c.e.id, "%s is not a primitive element: %s is not allowed", name, k)
		return nil
	}
	w.errorf("."+k, holder.id, "element %s is not allowed here (unknown element)", k)
	return nil
}

// slot holds what an object has for one child: its value and, for a
// primitive, its "_name" object.
type slot struct {
	val, ext       any
	hasVal, hasExt bool
}

// gatherChoice collects the occurrences of a choice child (value[x]), one
// per type present.
func (w *walker) gatherChoice(c *elem, obj map[string]any, out []occ) []occ {
	for i, t := range c.types {
		key := c.choiceKeys[i]
		val, okv := obj[key]
		var ext any
		oke := false
		if c.choiceExtKeys[i] != "" {
			ext, oke = obj[c.choiceExtKeys[i]]
		}
		if okv || oke {
			out = append(out, occ{val: val, ext: ext, typ: t.code, key: key, idx: -1})
		}
	}
	return out
}

// gather collects the occurrences of child c from its slot, checking that
// arrays are used where the base definition repeats and only there. bad
// counts values present in a shape that cannot be validated (already
// reported).
func (w *walker) gather(c *elem, sl *slot, out []occ) (occs []occ, bad int) {
	typ := c.typ
	if typ == "" {
		if t := w.v.target(c); len(t.types) > 0 {
			typ = t.types[0].code
		}
	}
	val, okv := sl.val, sl.hasVal
	ext, oke := sl.ext, sl.hasExt
	if !okv && !oke {
		return out, 0
	}
	if !c.array {
		if _, isArr := val.([]any); isArr {
			w.errorf("."+c.jsonName, c.id, "%s must not be an array", c.jsonName)
			return out, 1
		}
		if _, isArr := ext.([]any); isArr {
			w.errorf("."+c.extKey, c.id, "%s must not be an array", c.extKey)
			return out, 1
		}
		return append(out, occ{val: val, ext: ext, typ: typ, key: c.jsonName, idx: -1}), 0
	}
	vals, okva := val.([]any)
	exts, okea := ext.([]any)
	if (okv && !okva) || (oke && !okea) {
		w.errorf("."+c.jsonName, c.id, "%s must be an array", c.jsonName)
		return out, 1
	}
	if okv && oke && len(vals) != len(exts) {
		w.errorf("."+c.jsonName, c.id, "%s and %s have different lengths", c.jsonName, c.extKey)
	}
	n := max(len(vals), len(exts))
	if n == 0 {
		w.errorf("."+c.jsonName, c.id, "%s is an empty array", c.jsonName)
		return out, 1
	}
	for i := range n {
		var v, x any
		if i < len(vals) {
			v = vals[i]
		}
		if i < len(exts) {
			x = exts[i]
		}
		out = append(out, occ{val: v, ext: x, typ: typ, key: c.jsonName, idx: i})
	}
	return out, 0
}

// primitive validates a primitive value and its "_name" object.
func (w *walker) primitive(e, def *elem, typ string, val, ext any) {
	if val == nil && ext == nil {
		w.errorf("", e.id, "null is not a valid value")
		return
	}
	if val != nil {
		if msg := checkPrimitive(typ, val); msg != "" {
			w.errorf("", e.id, "%s", msg)
		} else {
			if e.maxLength > 0 {
				if s, ok := val.(string); ok && len([]rune(s)) > e.maxLength {
					w.errorf("", e.id, "value is longer than the maximum length %d", e.maxLength)
				}
			}
			w.fixedPattern(e, val)
			if e.binding != nil {
				w.checkBinding(e, typ, val)
			}
		}
	}
	var tplan *plan
	if ext != nil {
		xo, ok := ext.(map[string]any)
		tplan = e.typePlans[typ]
		if tplan == nil {
			tplan = def.typePlans[typ]
		}
		if !ok {
			w.errorf("", e.id, "the _ object of a primitive must be a JSON object")
		} else if tplan != nil {
			w.object(tplan.root, xo, false)
		}
	}
	w.invariants(e, def, tplan, typ, val, ext)
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

// bundleFullURLs checks that each entry's fullUrl, when it is a RESTful
// URL, names the entry's resource (its type and id).
func (w *walker) bundleFullURLs(bundle map[string]any) {
	entries, _ := bundle["entry"].([]any)
	for i, e := range entries {
		em, _ := e.(map[string]any)
		full, _ := em["fullUrl"].(string)
		res, _ := em["resource"].(map[string]any)
		id, _ := res["id"].(string)
		if full == "" || id == "" || strings.HasPrefix(full, "urn:") {
			continue
		}
		u := full
		if j := strings.Index(u, "/_history/"); j >= 0 {
			u = u[:j]
		}
		parts := strings.Split(u, "/")
		if len(parts) < 2 {
			continue
		}
		rt, _ := res["resourceType"].(string)
		if parts[len(parts)-2] != rt || parts[len(parts)-1] != id {
			w.errorf(".entry["+strconv.Itoa(i)+"].fullUrl", "Bundle.entry.fullUrl", "fullUrl %s does not match the entry's resource %s/%s", full, rt, id)
		}
	}
}
