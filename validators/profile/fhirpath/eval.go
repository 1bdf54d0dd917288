package fhirpath

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Item is one value in a FHIRPath collection: a JSON value with, for a
// primitive, its "_name" object (id and extensions), and its FHIR type when
// known.
type Item struct {
	V   any            // map[string]any, string, json.Number, bool, int64, float64
	Ext map[string]any // the primitive's "_name" object
	// T is the FHIR type ("Quantity", "string", "Patient") or, for
	// literals and computed values, the System type ("String", "Integer",
	// "Decimal", "Boolean", "Date", "DateTime", "Time").
	T string
	// Def locates the item's definition for typing its children: a type
	// name, or an element path for backbone elements
	// ("ExplanationOfBenefit.item").
	Def string
}

// Model gives the evaluator what it cannot learn from the JSON: the types
// of elements, what references point to and value set membership.
type Model interface {
	// ChildType returns the FHIR type and definition path of the child
	// name of an item whose definition path is def. choice reports that
	// the element is a choice (value[x]) element. typ is "" when unknown.
	ChildType(def, name string) (typ, childDef string, choice bool)
	// Resolve returns the resource a reference points to, when at hand,
	// and its type ("" when not even that is known).
	Resolve(ref string) (map[string]any, string)
	// MemberOf reports whether a coded item is in a value set; known is
	// false when that cannot be decided.
	MemberOf(it Item, valueSet string) (in, known bool)
}

// Env is the evaluation environment of one expression.
type Env struct {
	Model        Model
	Resource     Item // %resource
	RootResource Item // %rootResource
	Context      Item // %context
	// Now fixes now() and today() (tests); zero means the clock.
	Now time.Time
}

// Eval evaluates the expression with focus as the input collection.
func (e *Expr) Eval(env *Env, focus []Item) ([]Item, error) {
	ev := &evaluator{env: env}
	return ev.eval(e.root, focus, focus)
}

// EvalBool evaluates the expression as an invariant: true, false, or
// (empty result) ok=false.
func (e *Expr) EvalBool(env *Env, focus []Item) (val, ok bool, err error) {
	out, err := e.Eval(env, focus)
	if err != nil {
		return false, false, err
	}
	switch len(out) {
	case 0:
		return false, false, nil
	case 1:
		if b, isB := out[0].V.(bool); isB {
			return b, true, nil
		}
		// a single non-boolean item counts as true (singleton evaluation)
		return true, true, nil
	}
	return false, false, fmt.Errorf("invariant returned %d items, not a boolean", len(out))
}

type evaluator struct {
	env   *Env
	index int
	total []Item
	work  int // items produced so far (see maxWork)
}

// Bounds of one evaluation. An expression over hostile data (a resource
// made of one huge array) or a hostile expression (nested combines,
// replace() growing a string) must end, in bounded memory; an evaluation
// past a bound reports ErrUnsupported, as an invariant that cannot be
// evaluated is.
const (
	maxCollection = 1 << 20  // items in one collection
	maxWork       = 1 << 24  // items produced by one evaluation, all steps
	maxBuilt      = 16 << 20 // bytes of a string built by an operator or function
)

var errTooCostly = fmt.Errorf("%w: evaluation too costly (over %d items, or a string over %d bytes)", ErrUnsupported, maxCollection, maxBuilt)

// eval evaluates a node, counting what it produces against the bounds.
func (ev *evaluator) eval(n *node, focus, this []Item) ([]Item, error) {
	out, err := ev.evalNode(n, focus, this)
	if err != nil {
		return nil, err
	}
	ev.work += len(out)
	if len(out) > maxCollection || ev.work > maxWork {
		return nil, errTooCostly
	}
	return out, nil
}

func (ev *evaluator) evalNode(n *node, focus, this []Item) ([]Item, error) {
	switch n.kind {
	case nLiteral:
		return []Item{n.lit}, nil
	case nEmpty:
		return nil, nil
	case nThis:
		return this, nil
	case nIndexV:
		return []Item{{V: int64(ev.index), T: "Integer"}}, nil
	case nTotal:
		return ev.total, nil
	case nVar:
		switch n.name {
		case "resource":
			return single(ev.env.Resource), nil
		case "rootResource":
			return single(ev.env.RootResource), nil
		case "context":
			return single(ev.env.Context), nil
		case "ucum":
			return []Item{{V: "http://unitsofmeasure.org", T: "String"}}, nil
		case "sct":
			return []Item{{V: "http://snomed.info/sct", T: "String"}}, nil
		case "loinc":
			return []Item{{V: "http://loinc.org", T: "String"}}, nil
		}
		if strings.HasPrefix(n.name, "vs-") {
			return []Item{{V: "http://hl7.org/fhir/ValueSet/" + n.name[3:], T: "String"}}, nil
		}
		if strings.HasPrefix(n.name, "ext-") {
			return []Item{{V: "http://hl7.org/fhir/StructureDefinition/" + n.name[4:], T: "String"}}, nil
		}
		return nil, unsupported("variable %%%s", n.name)
	case nMember:
		in := focus
		if n.recv != nil {
			var err error
			in, err = ev.eval(n.recv, focus, this)
			if err != nil {
				return nil, err
			}
		} else if isTypeName(n.name) {
			// "Patient.name": a leading type name selects focus items
			// of that type.
			var out []Item
			for _, it := range in {
				if ev.isType(it, n.name) {
					out = append(out, it)
				}
			}
			if len(out) > 0 || len(in) == 0 {
				return out, nil
			}
		}
		if err := checkOpaque(in); err != nil {
			return nil, err
		}
		return ev.member(in, n.name), nil
	case nIndex:
		in, err := ev.eval(n.recv, focus, this)
		if err != nil {
			return nil, err
		}
		idx, err := ev.eval(n.args[0], focus, this)
		if err != nil {
			return nil, err
		}
		i, ok := toInt(idx)
		if !ok || i < 0 || int(i) >= len(in) {
			return nil, nil
		}
		return []Item{in[i]}, nil
	case nUnary:
		v, err := ev.eval(n.args[0], focus, this)
		if err != nil {
			return nil, err
		}
		if n.op == "+" {
			return v, nil
		}
		if len(v) == 0 {
			return nil, nil
		}
		switch x := num(v[0]); {
		case x.ok && x.isInt:
			return []Item{{V: -x.i, T: "Integer"}}, nil
		case x.ok:
			return []Item{{V: -x.f, T: "Decimal"}}, nil
		}
		return nil, fmt.Errorf("cannot negate %v", v[0].V)
	case nTypeOp:
		in, err := ev.eval(n.recv, focus, this)
		if err != nil {
			return nil, err
		}
		if n.op == "is" {
			if len(in) == 0 {
				return nil, nil
			}
			if len(in) > 1 {
				return nil, fmt.Errorf("'is' on %d items", len(in))
			}
			return boolItem(ev.isType(in[0], n.name)), nil
		}
		var out []Item
		for _, it := range in {
			if ev.isType(it, n.name) {
				out = append(out, it)
			}
		}
		return out, nil
	case nBinary:
		return ev.binary(n, focus, this)
	case nFunc:
		in := focus
		if n.recv != nil {
			var err error
			in, err = ev.eval(n.recv, focus, this)
			if err != nil {
				return nil, err
			}
		}
		f := functions[n.name]
		return f(ev, in, n.args, this)
	}
	return nil, fmt.Errorf("unknown node")
}

func single(it Item) []Item {
	if it.V == nil && it.Ext == nil {
		return nil
	}
	return []Item{it}
}

func isTypeName(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }

// member navigates to the children called name of each item.
func (ev *evaluator) member(in []Item, name string) []Item {
	var out []Item
	for _, it := range in {
		m, ok := it.V.(map[string]any)
		if !ok {
			continue
		}
		typ, def, choice := "", "", false
		if ev.env.Model != nil {
			typ, def, choice = ev.env.Model.ChildType(it.Def, name)
		}
		v, hasV := m[name]
		x, hasX := m["_"+name]
		if hasV || hasX {
			out = appendChildren(out, v, x, typ, def)
			continue
		}
		if choice || typ == "" {
			for k, cv := range m {
				if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
					t := choiceType(k[len(name):])
					cx, _ := m["_"+k]
					out = appendChildren(out, cv, cx, t, t)
				}
			}
		}
	}
	return out
}

// choiceType turns the suffix of a choice property into a type name.
func choiceType(s string) string {
	l := strings.ToLower(s[:1]) + s[1:]
	switch l {
	case "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary", "instant",
		"date", "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "uuid":
		return l
	}
	return s
}

func appendChildren(out []Item, v, x any, typ, def string) []Item {
	if def == "" {
		def = typ
	}
	switch vv := v.(type) {
	case []any:
		xs, _ := x.([]any)
		for i, e := range vv {
			var ext map[string]any
			if i < len(xs) {
				ext, _ = xs[i].(map[string]any)
			}
			if e == nil && ext == nil {
				continue
			}
			out = append(out, item(e, ext, typ, def))
		}
		return out
	case nil:
		if xs, ok := x.([]any); ok {
			for _, e := range xs {
				if ext, ok := e.(map[string]any); ok {
					out = append(out, item(nil, ext, typ, def))
				}
			}
			return out
		}
		if ext, ok := x.(map[string]any); ok {
			out = append(out, item(nil, ext, typ, def))
		}
		return out
	default:
		ext, _ := x.(map[string]any)
		return append(out, item(v, ext, typ, def))
	}
}

func item(v any, ext map[string]any, typ, def string) Item {
	if m, ok := v.(map[string]any); ok {
		if rt, ok := m["resourceType"].(string); ok {
			return Item{V: v, T: rt, Def: rt}
		}
	}
	return Item{V: v, Ext: ext, T: typ, Def: def}
}

// isType reports whether an item is of the named type (or a subtype, for
// Resource and DomainResource).
func (ev *evaluator) isType(it Item, name string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "FHIR."), "System.")
	t := it.T
	if m, ok := it.V.(map[string]any); ok {
		if rt, ok := m["resourceType"].(string); ok {
			return rt == name || name == "Resource" || name == "DomainResource" && rt != "Bundle" && rt != "Parameters" && rt != "Binary"
		}
	}
	if t == name {
		return true
	}
	lname := strings.ToLower(name[:1]) + name[1:]
	switch t {
	case "":
		// Untyped JSON (where the definitions were not at hand): accept a
		// JSON kind that can hold the type, rather than fail the check.
		switch it.V.(type) {
		case string:
			switch lname {
			case "string", "uri", "url", "canonical", "code", "id", "markdown", "oid", "uuid",
				"date", "dateTime", "instant", "time", "base64Binary":
				return true
			}
		case bool:
			return lname == "boolean"
		case json.Number, int64, float64:
			return lname == "integer" || lname == "decimal" || lname == "positiveInt" || lname == "unsignedInt"
		}
		return false
	case "String":
		return lname == "string"
	case "Integer":
		return lname == "integer"
	case "Decimal":
		return lname == "decimal"
	case "Boolean":
		return lname == "boolean"
	case "Date":
		return lname == "date"
	case "DateTime":
		return lname == "dateTime"
	}
	// FHIR primitive types match their System type names ("is String").
	if lname == t {
		return true
	}
	switch name {
	case "String":
		return t == "string" || t == "code" || t == "id" || t == "uri" || t == "url" || t == "canonical" || t == "markdown" || t == "oid" || t == "uuid"
	case "Integer":
		return t == "integer" || t == "positiveInt" || t == "unsignedInt"
	}
	// code, id and markdown specialise string; url, canonical, oid and
	// uuid specialise uri; positiveInt and unsignedInt integer.
	switch lname {
	case "string":
		return t == "code" || t == "id" || t == "markdown"
	case "uri":
		return t == "url" || t == "canonical" || t == "oid" || t == "uuid"
	case "integer":
		return t == "positiveInt" || t == "unsignedInt"
	}
	return false
}

func boolItem(b bool) []Item { return []Item{{V: b, T: "Boolean"}} }

// boolOf converts a collection to a three-valued boolean.
func boolOf(c []Item) (val, ok bool, err error) {
	switch len(c) {
	case 0:
		return false, false, nil
	case 1:
		if b, isB := c[0].V.(bool); isB {
			return b, true, nil
		}
		return true, true, nil
	}
	return false, false, fmt.Errorf("expected a single boolean, found %d items", len(c))
}

func (ev *evaluator) binary(n *node, focus, this []Item) ([]Item, error) {
	left, err := ev.eval(n.args[0], focus, this)
	if err != nil {
		return nil, err
	}
	// short-circuit logic
	switch n.op {
	case "and", "or", "implies", "xor":
		l, lok, err := boolOf(left)
		if err != nil {
			return nil, err
		}
		if n.op == "and" && lok && !l {
			return boolItem(false), nil
		}
		if n.op == "or" && lok && l {
			return boolItem(true), nil
		}
		if n.op == "implies" && lok && !l {
			return boolItem(true), nil
		}
		right, err := ev.eval(n.args[1], focus, this)
		if err != nil {
			return nil, err
		}
		r, rok, err := boolOf(right)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "and":
			if rok && !r {
				return boolItem(false), nil
			}
			if lok && rok {
				return boolItem(true), nil
			}
			return nil, nil
		case "or":
			if rok && r {
				return boolItem(true), nil
			}
			if lok && rok {
				return boolItem(false), nil
			}
			return nil, nil
		case "xor":
			if lok && rok {
				return boolItem(l != r), nil
			}
			return nil, nil
		default: // implies
			if rok && r {
				return boolItem(true), nil
			}
			if lok && rok {
				return boolItem(false), nil
			}
			return nil, nil
		}
	}
	right, err := ev.eval(n.args[1], focus, this)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "|":
		return union(left, right), nil
	case "=", "!=":
		if len(left) == 0 || len(right) == 0 {
			return nil, nil
		}
		eq, ok := collectionsEqual(left, right)
		if !ok {
			return nil, nil
		}
		return boolItem(eq == (n.op == "=")), nil
	case "~", "!~":
		eq := collectionsEquivalent(left, right)
		return boolItem(eq == (n.op == "~")), nil
	case "in", "contains":
		coll, one := right, left
		if n.op == "contains" {
			coll, one = left, right
		}
		if len(one) == 0 {
			return nil, nil
		}
		if len(one) > 1 {
			return nil, fmt.Errorf("'%s' with %d items", n.op, len(one))
		}
		for _, c := range coll {
			if eq, ok := itemsEqual(one[0], c); ok && eq {
				return boolItem(true), nil
			}
		}
		return boolItem(false), nil
	case "<", ">", "<=", ">=":
		if len(left) == 0 || len(right) == 0 {
			return nil, nil
		}
		if len(left) > 1 || len(right) > 1 {
			return nil, fmt.Errorf("comparison of collections")
		}
		c, ok := compare(left[0], right[0])
		if !ok {
			return nil, nil
		}
		switch n.op {
		case "<":
			return boolItem(c < 0), nil
		case ">":
			return boolItem(c > 0), nil
		case "<=":
			return boolItem(c <= 0), nil
		default:
			return boolItem(c >= 0), nil
		}
	case "&":
		l, r := strOf(left), strOf(right)
		if len(l)+len(r) > maxBuilt {
			return nil, errTooCostly
		}
		return []Item{{V: l + r, T: "String"}}, nil
	case "+", "-", "*", "/", "div", "mod":
		if len(left) == 0 || len(right) == 0 {
			return nil, nil
		}
		if len(left) > 1 || len(right) > 1 {
			return nil, fmt.Errorf("arithmetic on collections")
		}
		return arith(n.op, left[0], right[0])
	}
	return nil, unsupported("operator %s", n.op)
}

func strOf(c []Item) string {
	if len(c) == 0 {
		return ""
	}
	s, _ := toString(c[0])
	return s
}

type number struct {
	i     int64
	f     float64
	isInt bool
	ok    bool
}

func num(it Item) number {
	switch v := it.V.(type) {
	case int64:
		return number{i: v, f: float64(v), isInt: true, ok: true}
	case float64:
		return number{f: v, ok: true}
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return number{i: i, f: float64(i), isInt: true, ok: true}
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return number{f: f, ok: true}
		}
	}
	return number{}
}

func toInt(c []Item) (int64, bool) {
	if len(c) != 1 {
		return 0, false
	}
	n := num(c[0])
	return n.i, n.ok && n.isInt
}

func arith(op string, a, b Item) ([]Item, error) {
	if op == "+" {
		if as, ok := a.V.(string); ok {
			if bs, ok := b.V.(string); ok {
				if len(as)+len(bs) > maxBuilt {
					return nil, errTooCostly
				}
				return []Item{{V: as + bs, T: "String"}}, nil
			}
		}
	}
	x, y := num(a), num(b)
	if !x.ok || !y.ok {
		return nil, unsupported("arithmetic on %T and %T", a.V, b.V)
	}
	if x.isInt && y.isInt {
		switch op {
		case "+":
			return []Item{{V: x.i + y.i, T: "Integer"}}, nil
		case "-":
			return []Item{{V: x.i - y.i, T: "Integer"}}, nil
		case "*":
			return []Item{{V: x.i * y.i, T: "Integer"}}, nil
		case "div":
			if y.i == 0 {
				return nil, nil
			}
			return []Item{{V: x.i / y.i, T: "Integer"}}, nil
		case "mod":
			if y.i == 0 {
				return nil, nil
			}
			return []Item{{V: x.i % y.i, T: "Integer"}}, nil
		}
	}
	switch op {
	case "+":
		return []Item{{V: x.f + y.f, T: "Decimal"}}, nil
	case "-":
		return []Item{{V: x.f - y.f, T: "Decimal"}}, nil
	case "*":
		return []Item{{V: x.f * y.f, T: "Decimal"}}, nil
	case "/":
		if y.f == 0 {
			return nil, nil
		}
		return []Item{{V: x.f / y.f, T: "Decimal"}}, nil
	case "div":
		if y.f == 0 {
			return nil, nil
		}
		return []Item{{V: int64(math.Trunc(x.f / y.f)), T: "Integer"}}, nil
	case "mod":
		if y.f == 0 {
			return nil, nil
		}
		return []Item{{V: math.Mod(x.f, y.f), T: "Decimal"}}, nil
	}
	return nil, unsupported("operator %s", op)
}

func union(a, b []Item) []Item {
	set := newItemSet(nil)
	var out []Item
	for _, c := range [][]Item{a, b} {
		for _, it := range c {
			if set.add(it) {
				out = append(out, it)
			}
		}
	}
	return out
}

func collectionsEqual(a, b []Item) (bool, bool) {
	if len(a) != len(b) {
		return false, true
	}
	for i := range a {
		eq, ok := itemsEqual(a[i], b[i])
		if !ok {
			return false, false
		}
		if !eq {
			return false, true
		}
	}
	return true, true
}

func collectionsEquivalent(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if itemsEquivalent(x, y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// itemsEqual compares two items; ok is false when equality is unknown
// (dates of different precision).
func itemsEqual(a, b Item) (eq, ok bool) {
	if isDateLike(a) && isDateLike(b) {
		c, ok := compareDates(a.V.(string), b.V.(string))
		if !ok {
			return false, false
		}
		return c == 0, true
	}
	x, y := num(a), num(b)
	if x.ok && y.ok {
		return x.f == y.f, true
	}
	return JSONEqual(a.V, b.V), true
}

func itemsEquivalent(a, b Item) bool {
	as, aok := a.V.(string)
	bs, bok := b.V.(string)
	if aok && bok {
		return strings.EqualFold(strings.Join(strings.Fields(as), " "), strings.Join(strings.Fields(bs), " "))
	}
	eq, ok := itemsEqual(a, b)
	return ok && eq
}

func isDateLike(it Item) bool {
	s, ok := it.V.(string)
	if !ok {
		return false
	}
	switch it.T {
	case "date", "dateTime", "instant", "Date", "DateTime":
		return true
	case "":
		return looksLikeDate(s)
	}
	return false
}

func looksLikeDate(s string) bool {
	if len(s) < 4 || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	if len(s) == 4 {
		return true
	}
	return s[4] == '-'
}

func compare(a, b Item) (int, bool) {
	if isDateLike(a) && isDateLike(b) {
		return compareDates(a.V.(string), b.V.(string))
	}
	x, y := num(a), num(b)
	if x.ok && y.ok {
		switch {
		case x.f < y.f:
			return -1, true
		case x.f > y.f:
			return 1, true
		}
		return 0, true
	}
	as, aok := a.V.(string)
	bs, bok := b.V.(string)
	if aok && bok {
		return strings.Compare(as, bs), true
	}
	return 0, false
}

// compareDates compares two FHIR date/dateTime values at the precision
// they share; ok is false when their precisions differ in a way that
// matters.
func compareDates(a, b string) (int, bool) {
	ta, pa, ok1 := parseDate(a)
	tb, pb, ok2 := parseDate(b)
	if !ok1 || !ok2 {
		return strings.Compare(a, b), true
	}
	if pa != pb {
		// compare at the coarser precision; equal there is unknown
		p := min(pa, pb)
		ca, cb := truncate(ta, p), truncate(tb, p)
		switch {
		case ca.Before(cb):
			return -1, true
		case ca.After(cb):
			return 1, true
		}
		return 0, false
	}
	switch {
	case ta.Before(tb):
		return -1, true
	case ta.After(tb):
		return 1, true
	}
	return 0, true
}

// precision levels
const (
	pYear = iota
	pMonth
	pDay
	pSecond
)

func parseDate(s string) (time.Time, int, bool) {
	layouts := []struct {
		l string
		p int
	}{
		{"2006", pYear}, {"2006-01", pMonth}, {"2006-01-02", pDay},
		{time.RFC3339Nano, pSecond}, {"2006-01-02T15:04:05", pSecond}, {"2006-01-02T15:04", pSecond},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.l, s); err == nil {
			return t, l.p, true
		}
	}
	return time.Time{}, 0, false
}

func truncate(t time.Time, p int) time.Time {
	t = t.UTC()
	switch p {
	case pYear:
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	case pMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case pDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t
}

func toString(it Item) (string, bool) {
	switch v := it.V.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
