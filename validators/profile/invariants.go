package profile

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/profile/fhirpath"
)

// invariant is a constraint of an element with its parsed expression.
type invariant struct {
	key          string
	severity     string
	human        string
	expr         string
	bestPractice bool
	native       nativeCheck
	// guard names a property without which the invariant holds trivially
	// (dom-2, dom-4, dom-5 constrain contained resources): it is then
	// not evaluated, only counted
	guard    string
	x        *fhirpath.Expr
	parseErr error
}

// nativeCheck names the invariants implemented in Go: ele-1 and ext-1 apply
// to nearly every element, so they must cost next to nothing.
type nativeCheck int

const (
	notNative nativeCheck = iota
	nativeEle1
	nativeExt1
	nativeTxt1
	nativeTxt2
	nativeRef1
	nativeDom3
)

// exprCache shares parsed invariants between the plans of a validator: the
// same constraint (ele-1, ext-1, dom-*) appears in every definition.
type exprCache struct {
	mu sync.Mutex
	m  map[string]*invariant
}

func newExprCache() *exprCache { return &exprCache{m: map[string]*invariant{}} }

func (c *exprCache) invariant(con packages.Constraint) *invariant {
	k := con.Key + "\x00" + con.Severity + "\x00" + con.Expression
	c.mu.Lock()
	defer c.mu.Unlock()
	if inv, ok := c.m[k]; ok {
		return inv
	}
	inv := &invariant{key: con.Key, severity: con.Severity, human: con.Human, expr: con.Expression, bestPractice: con.BestPractice()}
	switch {
	case con.Key == "ele-1" && con.Expression == "hasValue() or (children().count() > id.count())":
		inv.native = nativeEle1
	case con.Key == "ext-1" && con.Expression == "extension.exists() != value.exists()":
		inv.native = nativeExt1
	// txt-1 and txt-2 share the expression htmlChecks(); told apart by key,
	// each checks its own half (allowed markup; some content).
	// ref-1 applies to every Reference; dom-3 walks the whole resource
	// once per contained resource in FHIRPath. Both are done directly.
	case con.Key == "ref-1" && strings.HasPrefix(con.Expression, "reference.startsWith('#').not()"):
		inv.native = nativeRef1
	case con.Key == "dom-3" && strings.HasPrefix(con.Expression, "contained.where("):
		inv.native = nativeDom3
	case con.Key == "txt-1" && con.Expression == "htmlChecks()":
		inv.native = nativeTxt1
	case con.Key == "txt-2" && con.Expression == "htmlChecks()":
		inv.native = nativeTxt2
	default:
		inv.x, inv.parseErr = fhirpath.Parse(con.Expression)
		switch con.Expression {
		case "contained.contained.empty()",
			"contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
			"contained.meta.security.empty()":
			inv.guard = "contained"
		}
	}
	c.m[k] = inv
	return inv
}

// invariants evaluates the constraints of element e (and of its content
// reference target and its type's root) on one value.
func (w *walker) invariants(e, def *elem, tplan *plan, typ string, val, ext any) {
	w.v.resolve(e)
	if list, ok := e.invByType[typ]; ok && (tplan == nil || tplan == e.typePlans[typ] || isPrimitive(typ)) {
		for _, inv := range list {
			w.evalInvariant(e, inv, typ, val, ext)
		}
		return
	}
	// A value whose type plan was chosen for it (an extension by its url).
	var root []*invariant
	if tplan != nil && tplan.root != e && tplan.root != def {
		root = tplan.root.invs
	}
	for _, inv := range mergeInvariants(e.invs, def.invs, root) {
		w.evalInvariant(e, inv, typ, val, ext)
	}
}

func (w *walker) evalInvariant(e *elem, inv *invariant, typ string, val, ext any) {
	if inv.bestPractice && !w.v.opts.BestPractice {
		return
	}
	sev := validators.Error
	if inv.severity == "warning" || inv.bestPractice {
		sev = validators.Warning
	}
	extMap, _ := ext.(map[string]any)
	var ok bool
	switch inv.native {
	case nativeEle1:
		ok = hasValueOrChildren(val, extMap)
	case nativeExt1:
		ok = extensionOrValue(val)
	case nativeRef1:
		ok = w.localReferenceOK(val)
	case nativeDom3:
		ok = containedReferenced(val)
	case nativeTxt1, nativeTxt2:
		s, _ := val.(string)
		allowed, content := fhirpath.CheckHTML(s)
		ok = allowed
		if inv.native == nativeTxt2 {
			ok = content
		}
	default:
		if inv.guard != "" {
			if m, isMap := val.(map[string]any); isMap {
				if _, has := m[inv.guard]; !has {
					ok = true
					break
				}
			}
		}
		if inv.x == nil {
			w.unsupported(inv, inv.parseErr)
			return
		}
		defPath := typ
		if typ == "" || typ == "BackboneElement" || typ == "Element" || e == e.plan.root {
			defPath = e.path
		}
		focus := fhirpath.Item{V: val, Ext: extMap, T: typ, Def: defPath}
		if w.env == nil {
			w.env = &fhirpath.Env{Model: model{w}}
		}
		w.env.Resource = fhirpath.Item{V: w.curRes, T: resType(w.curRes), Def: resType(w.curRes)}
		w.env.RootResource = fhirpath.Item{V: w.rootRes, T: resType(w.rootRes), Def: resType(w.rootRes)}
		w.env.Context = focus
		w.focus[0] = focus
		res, valid, err := inv.x.EvalBool(w.env, w.focus[:])
		if err != nil {
			w.unsupported(inv, err)
			return
		}
		ok = !valid || res // an empty result does not fail an invariant
	}
	if !w.quiet {
		w.res.InvariantsEvaluated++
	}
	if !ok {
		if sev == validators.Error {
			w.errorf("", inv.key, "constraint %s failed: %s", inv.key, inv.human)
		} else {
			w.warnf("", inv.key, "constraint %s failed: %s", inv.key, inv.human)
		}
	}
}

func (w *walker) unsupported(inv *invariant, err error) {
	if w.quiet {
		return
	}
	w.res.InvariantsUnsupported++
	found := false
	for _, k := range w.res.UnsupportedInvariants {
		if k == inv.key {
			found = true
			break
		}
	}
	if !found {
		w.res.UnsupportedInvariants = append(w.res.UnsupportedInvariants, inv.key)
	}
	if w.v.opts.InvariantInfo {
		w.issue(validators.Information, "", fmt.Sprintf("constraint %s not evaluated: %v", inv.key, err), inv.key, "")
	}
}

func resType(m map[string]any) string {
	rt, _ := m["resourceType"].(string)
	return rt
}

// hasValueOrChildren is ele-1: an element has a value or children other
// than its id.
func hasValueOrChildren(val any, ext map[string]any) bool {
	switch v := val.(type) {
	case nil:
	case map[string]any:
		for k := range v {
			if k != "id" {
				return true
			}
		}
		return false
	default:
		return true
	}
	for k := range ext {
		if k != "id" {
			return true
		}
	}
	return false
}

// extensionOrValue is ext-1: an extension has nested extensions or a
// value, not both. A primitive value[x] present only by its "_valueX"
// object (extensions without a value) exists as far as FHIRPath's
// value.exists() goes.
func extensionOrValue(val any) bool {
	m, ok := val.(map[string]any)
	if !ok {
		return true
	}
	exts, _ := m["extension"].([]any)
	hasExt := len(exts) > 0
	hasValue := false
	for k := range m {
		k = strings.TrimPrefix(k, "_")
		if len(k) > 5 && strings.HasPrefix(k, "value") && k[5] >= 'A' && k[5] <= 'Z' {
			hasValue = true
			break
		}
	}
	return hasExt != hasValue
}

// localReferenceOK is ref-1: a reference to "#id" names a contained
// resource of the root resource ("#" alone names the container itself).
func (w *walker) localReferenceOK(val any) bool {
	m, _ := val.(map[string]any)
	ref, _ := m["reference"].(string)
	id, local := strings.CutPrefix(ref, "#")
	if !local || id == "" {
		return true
	}
	cs, _ := w.rootRes["contained"].([]any)
	for _, c := range cs {
		if cm, ok := c.(map[string]any); ok && cm["id"] == id {
			return true
		}
	}
	return false
}

// containedReferenced is dom-3: every contained resource is referred to
// from elsewhere in the resource ("#id" in a reference, canonical or uri):
// from the container, from another contained resource, or it refers to
// its container ("#").
func containedReferenced(val any) bool {
	res, _ := val.(map[string]any)
	cs, _ := res["contained"].([]any)
	if len(cs) == 0 {
		return true
	}
	// local references found in the container (outside contained) and in
	// each contained resource
	fromContainer := map[string]bool{}
	for k, v := range res {
		if k != "contained" {
			localRefs(v, fromContainer)
		}
	}
	fromContained := make([]map[string]bool, len(cs))
	for i, c := range cs {
		fromContained[i] = map[string]bool{}
		localRefs(c, fromContained[i])
	}
	for i, c := range cs {
		cm, _ := c.(map[string]any)
		id, _ := cm["id"].(string)
		ref := "#" + id
		ok := fromContainer[ref] || fromContained[i]["#"]
		for j := range cs {
			ok = ok || j != i && fromContained[j][ref]
		}
		if !ok {
			return false
		}
	}
	return true
}

// localRefs adds every string starting with "#" found in v to refs.
func localRefs(v any, refs map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			localRefs(c, refs)
		}
	case []any:
		for _, c := range x {
			localRefs(c, refs)
		}
	case string:
		if strings.HasPrefix(x, "#") {
			refs[x] = true
		}
	}
}

// model gives the FHIRPath evaluator types from the base definitions,
// references resolved within the resource (or its Bundle), and value set
// membership.
type model struct{ w *walker }

func (m model) ChildType(def, name string) (string, string, bool) {
	return m.w.v.childType(def, name)
}

func (m model) Resolve(ref string) (map[string]any, string) {
	return m.w.resolveReference(ref)
}

func (m model) MemberOf(it fhirpath.Item, valueSet string) (bool, bool) {
	return m.w.v.terms.valueSet(valueSet).contains(it.V, it.T)
}

type childTypeKey struct{ def, name string }

type childTypeVal struct {
	typ, def string
	choice   bool
}

// childType answers the type of a child element from the base definitions,
// remembering the answers.
func (v *Validator) childType(def, name string) (string, string, bool) {
	if def == "" {
		return "", "", false
	}
	k := childTypeKey{def, name}
	if c, ok := v.childTypes.Load(k); ok {
		r := c.(childTypeVal)
		return r.typ, r.def, r.choice
	}
	r := v.lookupChildType(def, name)
	v.childTypes.Store(k, r)
	return r.typ, r.def, r.choice
}

func (v *Validator) lookupChildType(def, name string) childTypeVal {
	typ, _, _ := strings.Cut(def, ".")
	p, _ := v.basePlan(typ)
	if p == nil {
		return childTypeVal{}
	}
	e := p.byID[def]
	if e == nil {
		return childTypeVal{}
	}
	t := v.target(e)
	var c *elem
	for _, k := range v.defChildren(t, "") {
		if k.jsonName == name {
			c = k
			break
		}
	}
	if c == nil {
		return childTypeVal{}
	}
	if c.choice {
		return childTypeVal{choice: true}
	}
	ct := v.target(c)
	if len(ct.types) == 0 {
		return childTypeVal{}
	}
	code := ct.types[0].code
	if code == "BackboneElement" || code == "Element" {
		return childTypeVal{typ: code, def: ct.path}
	}
	return childTypeVal{typ: code, def: code}
}
