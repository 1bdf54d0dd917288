package fhirpath

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type fn func(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error)

var functions map[string]fn

func init() {
	functions = map[string]fn{
		"empty":       fEmpty,
		"exists":      fExists,
		"not":         fNot,
		"count":       fCount,
		"where":       fWhere,
		"select":      fSelect,
		"all":         fAll,
		"allTrue":     fAllTrue,
		"anyTrue":     fAnyTrue,
		"allFalse":    fAllFalse,
		"anyFalse":    fAnyFalse,
		"first":       fFirst,
		"last":        fLast,
		"tail":        fTail,
		"skip":        fSkip,
		"take":        fTake,
		"single":      fSingle,
		"hasValue":    fHasValue,
		"children":    fChildren,
		"descendants": fDescendants,
		"ofType":      fOfType,
		"as":          fAs,
		"is":          fIs,
		"iif":         fIif,
		"startsWith":  strFn2(strings.HasPrefix),
		"endsWith":    strFn2(strings.HasSuffix),
		"contains":    strFn2(strings.Contains),
		"matches":     fMatches,
		"length":      fLength,
		"substring":   fSubstring,
		"lower":       strFn1(strings.ToLower),
		"upper":       strFn1(strings.ToUpper),
		"trim":        strFn1(strings.TrimSpace),
		"indexOf":     fIndexOf,
		"replace":     fReplace,
		"toInteger":   fToInteger,
		"toDecimal":   fToDecimal,
		"toString":    fToString,
		"convertsToInteger": func(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
			out, err := fToInteger(ev, in, args, this)
			if err != nil || len(in) == 0 {
				return nil, err
			}
			return boolItem(len(out) == 1), nil
		},
		"subsetOf":   fSubsetOf,
		"supersetOf": fSupersetOf,
		"intersect":  fIntersect,
		"exclude":    fExclude,
		"combine":    fCombine,
		"union":      fUnion,
		"isDistinct": fIsDistinct,
		"distinct":   fDistinct,
		"memberOf":   fMemberOf,
		"resolve":    fResolve,
		"trace":      fTrace,
		"extension":  fExtension,
		"today":      fToday,
		"now":        fNow,
		"htmlChecks": fHTMLChecks,
	}
}

func arg(ev *evaluator, a *node, this []Item) ([]Item, error) {
	return ev.eval(a, this, this)
}

func argString(ev *evaluator, a *node, this []Item) (string, error) {
	v, err := arg(ev, a, this)
	if err != nil {
		return "", err
	}
	if len(v) != 1 {
		return "", fmt.Errorf("expected a single string argument")
	}
	s, ok := toString(v[0])
	if !ok {
		return "", fmt.Errorf("expected a string argument")
	}
	return s, nil
}

func fEmpty(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolItem(len(in) == 0), nil
}

func fExists(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	if len(args) == 0 {
		return boolItem(len(in) > 0), nil
	}
	out, err := fWhere(ev, in, args, this)
	if err != nil {
		return nil, err
	}
	return boolItem(len(out) > 0), nil
}

func fNot(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	b, ok, err := boolOf(in)
	if err != nil || !ok {
		return nil, err
	}
	return boolItem(!b), nil
}

func fCount(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return []Item{{V: int64(len(in)), T: "Integer"}}, nil
}

// each evaluates an argument with each input item as $this.
func each(ev *evaluator, in []Item, a *node, f func(i int, it Item, res []Item) (bool, error)) error {
	saveIdx := ev.index
	defer func() { ev.index = saveIdx }()
	for i, it := range in {
		ev.index = i
		one := []Item{it}
		res, err := ev.eval(a, one, one)
		if err != nil {
			return err
		}
		cont, err := f(i, it, res)
		if err != nil || !cont {
			return err
		}
	}
	return nil
}

func fWhere(ev *evaluator, in []Item, args []*node, _ []Item) ([]Item, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("where() takes one argument")
	}
	var out []Item
	err := each(ev, in, args[0], func(_ int, it Item, res []Item) (bool, error) {
		b, ok, err := boolOf(res)
		if err != nil {
			return false, err
		}
		if ok && b {
			out = append(out, it)
		}
		return true, nil
	})
	return out, err
}

func fSelect(ev *evaluator, in []Item, args []*node, _ []Item) ([]Item, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("select() takes one argument")
	}
	var out []Item
	err := each(ev, in, args[0], func(_ int, _ Item, res []Item) (bool, error) {
		out = append(out, res...)
		return true, nil
	})
	return out, err
}

func fAll(ev *evaluator, in []Item, args []*node, _ []Item) ([]Item, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("all() takes one argument")
	}
	all := true
	err := each(ev, in, args[0], func(_ int, _ Item, res []Item) (bool, error) {
		b, ok, err := boolOf(res)
		if err != nil {
			return false, err
		}
		if !ok || !b {
			all = false
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return boolItem(all), nil
}

func boolsAgg(in []Item, want bool, any bool) []Item {
	for _, it := range in {
		b, _ := it.V.(bool)
		if any && b == want {
			return boolItem(true)
		}
		if !any && b != want {
			return boolItem(false)
		}
	}
	return boolItem(!any)
}

func fAllTrue(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolsAgg(in, true, false), nil
}
func fAnyTrue(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolsAgg(in, true, true), nil
}
func fAllFalse(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolsAgg(in, false, false), nil
}
func fAnyFalse(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolsAgg(in, false, true), nil
}

func fFirst(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1], nil
}

func fLast(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1:], nil
}

func fTail(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) < 2 {
		return nil, nil
	}
	return in[1:], nil
}

func intArg(ev *evaluator, args []*node, this []Item) (int, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("expected one argument")
	}
	v, err := arg(ev, args[0], this)
	if err != nil {
		return 0, err
	}
	n, ok := toInt(v)
	if !ok {
		return 0, fmt.Errorf("expected an integer argument")
	}
	return int(n), nil
}

func fSkip(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	n, err := intArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	if n >= len(in) {
		return nil, nil
	}
	return in[max(n, 0):], nil
}

func fTake(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	n, err := intArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	return in[:min(n, len(in))], nil
}

func fSingle(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) > 1 {
		return nil, fmt.Errorf("single() on %d items", len(in))
	}
	return in, nil
}

func isPrimitiveValue(v any) bool {
	switch v.(type) {
	case nil, map[string]any, []any:
		return false
	}
	return true
}

func fHasValue(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return boolItem(len(in) == 1 && isPrimitiveValue(in[0].V)), nil
}

func (ev *evaluator) childrenOf(it Item) []Item {
	var out []Item
	if m, ok := it.V.(map[string]any); ok {
		for k := range m {
			if k == "resourceType" {
				continue
			}
			if strings.HasPrefix(k, "_") {
				if _, has := m[k[1:]]; has {
					continue
				}
				out = append(out, ev.member([]Item{it}, k[1:])...)
				continue
			}
			out = append(out, ev.member([]Item{it}, k)...)
		}
	}
	if it.Ext != nil {
		out = append(out, ev.member([]Item{{V: it.Ext, T: "Element", Def: "Element"}}, "extension")...)
		out = append(out, ev.member([]Item{{V: it.Ext, T: "Element", Def: "Element"}}, "id")...)
	}
	return out
}

func fChildren(ev *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if err := checkOpaque(in); err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		out = append(out, ev.childrenOf(it)...)
	}
	return out, nil
}

func fDescendants(ev *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if err := checkOpaque(in); err != nil {
		return nil, err
	}
	var out []Item
	queue := in
	for depth := 0; len(queue) > 0 && depth < 64; depth++ {
		var next []Item
		for _, it := range queue {
			kids := ev.childrenOf(it)
			out = append(out, kids...)
			next = append(next, kids...)
		}
		queue = next
	}
	return out, nil
}

func typeArg(args []*node) (string, error) {
	if len(args) != 1 || args[0].kind != nMember || args[0].recv != nil {
		if len(args) == 1 && args[0].kind == nMember && args[0].recv != nil && args[0].recv.kind == nMember && args[0].recv.recv == nil {
			return args[0].recv.name + "." + args[0].name, nil
		}
		return "", fmt.Errorf("expected a type name")
	}
	return args[0].name, nil
}

func fOfType(ev *evaluator, in []Item, args []*node, _ []Item) ([]Item, error) {
	t, err := typeArg(args)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		if ev.isType(it, t) {
			out = append(out, it)
		}
	}
	return out, nil
}

func fAs(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	return fOfType(ev, in, args, this)
}

func fIs(ev *evaluator, in []Item, args []*node, _ []Item) ([]Item, error) {
	t, err := typeArg(args)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		return nil, fmt.Errorf("is() on %d items", len(in))
	}
	return boolItem(ev.isType(in[0], t)), nil
}

func fIif(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("iif() takes two or three arguments")
	}
	// iif's criterion is evaluated on the input collection.
	focus := in
	if len(focus) == 0 {
		focus = this
	}
	c, err := ev.eval(args[0], focus, focus)
	if err != nil {
		return nil, err
	}
	b, ok, err := boolOf(c)
	if err != nil {
		return nil, err
	}
	if ok && b {
		return ev.eval(args[1], focus, focus)
	}
	if len(args) == 3 {
		return ev.eval(args[2], focus, focus)
	}
	return nil, nil
}

func singleString(in []Item) (string, bool, error) {
	if len(in) == 0 {
		return "", false, nil
	}
	if len(in) > 1 {
		return "", false, fmt.Errorf("string function on %d items", len(in))
	}
	s, ok := in[0].V.(string)
	return s, ok, nil
}

func strFn1(f func(string) string) fn {
	return func(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
		s, ok, err := singleString(in)
		if err != nil || !ok {
			return nil, err
		}
		return []Item{{V: f(s), T: "String"}}, nil
	}
}

func strFn2(f func(string, string) bool) fn {
	return func(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
		s, ok, err := singleString(in)
		if err != nil || !ok {
			return nil, err
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("expected one argument")
		}
		a, err := argString(ev, args[0], this)
		if err != nil {
			return nil, err
		}
		return boolItem(f(s, a)), nil
	}
}

func fMatches(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	s, ok, err := singleString(in)
	if err != nil || !ok {
		return nil, err
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("matches() takes one argument")
	}
	// A literal pattern was compiled when the expression was parsed.
	re := args[0].re
	if re == nil {
		pat, err := argString(ev, args[0], this)
		if err != nil {
			return nil, err
		}
		re, err = regexp.Compile(pat)
		if err != nil {
			return nil, unsupported("regular expression %q: %v", pat, err)
		}
	}
	return boolItem(re.MatchString(s)), nil
}

func fLength(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	s, ok, err := singleString(in)
	if err != nil || !ok {
		return nil, err
	}
	return []Item{{V: int64(utf8.RuneCountInString(s)), T: "Integer"}}, nil
}

func fSubstring(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	s, ok, err := singleString(in)
	if err != nil || !ok {
		return nil, err
	}
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("substring() takes one or two arguments")
	}
	r := []rune(s)
	startV, err := arg(ev, args[0], this)
	if err != nil {
		return nil, err
	}
	start, ok := toInt(startV)
	if !ok || start < 0 || int(start) >= len(r) {
		return nil, nil
	}
	end := int64(len(r))
	if len(args) == 2 {
		lv, err := arg(ev, args[1], this)
		if err != nil {
			return nil, err
		}
		l, ok := toInt(lv)
		if !ok {
			return nil, nil
		}
		end = min(start+max(l, 0), end)
	}
	return []Item{{V: string(r[start:end]), T: "String"}}, nil
}

func fIndexOf(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	s, ok, err := singleString(in)
	if err != nil || !ok || len(args) != 1 {
		return nil, err
	}
	a, err := argString(ev, args[0], this)
	if err != nil {
		return nil, err
	}
	return []Item{{V: int64(strings.Index(s, a)), T: "Integer"}}, nil
}

func fReplace(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	s, ok, err := singleString(in)
	if err != nil || !ok || len(args) != 2 {
		return nil, err
	}
	a, err := argString(ev, args[0], this)
	if err != nil {
		return nil, err
	}
	b, err := argString(ev, args[1], this)
	if err != nil {
		return nil, err
	}
	// The result's length, before building it: replace('', x) inserts x
	// between every character.
	n := strings.Count(s, a)
	if len(b) > len(a) && n > 0 && len(s)+n*(len(b)-len(a)) > maxBuilt {
		return nil, errTooCostly
	}
	return []Item{{V: strings.ReplaceAll(s, a, b), T: "String"}}, nil
}

func fToInteger(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		return nil, fmt.Errorf("toInteger() on %d items", len(in))
	}
	switch v := in[0].V.(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, nil
		}
		return []Item{{V: n, T: "Integer"}}, nil
	case bool:
		if v {
			return []Item{{V: int64(1), T: "Integer"}}, nil
		}
		return []Item{{V: int64(0), T: "Integer"}}, nil
	}
	if n := num(in[0]); n.ok && n.isInt {
		return []Item{{V: n.i, T: "Integer"}}, nil
	}
	return nil, nil
}

func fToDecimal(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) != 1 {
		return nil, nil
	}
	if s, ok := in[0].V.(string); ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, nil
		}
		return []Item{{V: f, T: "Decimal"}}, nil
	}
	if n := num(in[0]); n.ok {
		return []Item{{V: n.f, T: "Decimal"}}, nil
	}
	return nil, nil
}

func fToString(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) != 1 {
		return nil, nil
	}
	s, ok := toString(in[0])
	if !ok {
		return nil, nil
	}
	return []Item{{V: s, T: "String"}}, nil
}

func collArg(ev *evaluator, args []*node, this []Item) ([]Item, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("expected one argument")
	}
	// Collection arguments are evaluated against the function's context
	// ($this of the enclosing expression).
	return ev.eval(args[0], this, this)
}

func fSubsetOf(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	set := newItemSet(other)
	for _, it := range in {
		if !set.has(it) {
			return boolItem(false), nil
		}
	}
	return boolItem(true), nil
}

func fSupersetOf(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	set := newItemSet(in)
	for _, it := range other {
		if !set.has(it) {
			return boolItem(false), nil
		}
	}
	return boolItem(true), nil
}

func fIntersect(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	set, seen := newItemSet(other), newItemSet(nil)
	var out []Item
	for _, it := range in {
		if set.has(it) && seen.add(it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func fExclude(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	set := newItemSet(other)
	var out []Item
	for _, it := range in {
		if !set.has(it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func fCombine(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	out := append([]Item(nil), in...)
	return append(out, other...), nil
}

func fUnion(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	other, err := collArg(ev, args, this)
	if err != nil {
		return nil, err
	}
	return union(in, other), nil
}

func fIsDistinct(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	set := newItemSet(nil)
	for _, it := range in {
		if !set.add(it) {
			return boolItem(false), nil
		}
	}
	return boolItem(true), nil
}

func fDistinct(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return union(in, nil), nil
}

func fMemberOf(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		return nil, fmt.Errorf("memberOf() on %d items", len(in))
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("memberOf() takes one argument")
	}
	vs, err := argString(ev, args[0], this)
	if err != nil {
		return nil, err
	}
	if ev.env.Model == nil {
		return nil, unsupported("memberOf() without terminology")
	}
	isIn, known := ev.env.Model.MemberOf(in[0], vs)
	if !known {
		return nil, unsupported("memberOf(%s): value set cannot be expanded here", vs)
	}
	return boolItem(isIn), nil
}

// opaque marks a resource known only by its type (a reference to a
// resource not at hand): its type can be tested, its content cannot.
type opaque struct{ typ string }

// checkOpaque refuses to look inside resources known only by type.
func checkOpaque(in []Item) error {
	for _, it := range in {
		if o, ok := it.V.(opaque); ok {
			return unsupported("the content of a referenced %s is not at hand", o.typ)
		}
	}
	return nil
}

func fResolve(ev *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	var out []Item
	for _, it := range in {
		var ref string
		switch v := it.V.(type) {
		case map[string]any:
			ref, _ = v["reference"].(string)
		case string:
			ref = v
		}
		if ref == "" || ev.env.Model == nil {
			continue
		}
		obj, typ := ev.env.Model.Resolve(ref)
		switch {
		case obj != nil:
			out = append(out, Item{V: obj, T: typ, Def: typ})
		case typ != "":
			out = append(out, Item{V: opaque{typ}, T: typ, Def: typ})
		default:
			return nil, unsupported("resolve(%s): the reference cannot be resolved here", ref)
		}
	}
	return out, nil
}

func fTrace(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	return in, nil
}

func fExtension(ev *evaluator, in []Item, args []*node, this []Item) ([]Item, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("extension() takes one argument")
	}
	url, err := argString(ev, args[0], this)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		src := it
		if _, isMap := it.V.(map[string]any); !isMap && it.Ext != nil {
			src = Item{V: it.Ext, T: "Element", Def: "Element"}
		}
		for _, x := range ev.member([]Item{src}, "extension") {
			if m, ok := x.V.(map[string]any); ok && m["url"] == url {
				out = append(out, x)
			}
		}
	}
	return out, nil
}

func (ev *evaluator) now() time.Time {
	if !ev.env.Now.IsZero() {
		return ev.env.Now
	}
	return time.Now()
}

func fToday(ev *evaluator, _ []Item, _ []*node, _ []Item) ([]Item, error) {
	return []Item{{V: ev.now().Format("2006-01-02"), T: "Date"}}, nil
}

func fNow(ev *evaluator, _ []Item, _ []*node, _ []Item) ([]Item, error) {
	return []Item{{V: ev.now().Format(time.RFC3339), T: "DateTime"}}, nil
}
