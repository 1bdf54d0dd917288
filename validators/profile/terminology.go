package profile

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// terminology answers value set membership from the ValueSets and
// CodeSystems of the loaded packages. Each value set is expanded once, on
// first use, into hash sets.
type terminology struct {
	reg *packages.Registry

	mu  sync.Mutex
	vss map[string]*vsIndex
	css map[string]*csSlot
}

type csSlot struct {
	once sync.Once
	idx  *csIndex
}

// vsIndex is an expanded value set.
type vsIndex struct {
	url string
	// problem, when set, says why membership cannot be decided.
	problem string
	whyOnce sync.Once
	whyText string
	// codes holds the codes by system; bare holds the codes alone, for
	// elements of type code, which carry no system.
	codes map[string]map[string]struct{}
	bare  map[string]struct{}
	// systems holds code systems included whole whose codes are not
	// available here (SNOMED CT, LOINC, CPT...): a Coding from one of
	// them is accepted by its system, its code not verified (and counted
	// as not checked).
	systems map[string]bool
	// syntax holds code systems included whole whose codes are checked by
	// their form (builtinSystems: UCUM, BCP-47, BCP-13).
	syntax map[string]func(string) bool
}

// csIndex is a loaded code system.
type csIndex struct {
	url           string
	complete      bool
	caseSensitive bool
	concepts      map[string]*concept
	order         []string
}

type concept struct {
	code     string
	parents  []string
	children []string
	props    map[string][]string
}

func newTerminology(reg *packages.Registry) *terminology {
	return &terminology{reg: reg, vss: map[string]*vsIndex{}, css: map[string]*csSlot{}}
}

func newVSIndex(url string) *vsIndex {
	return &vsIndex{url: url, codes: map[string]map[string]struct{}{}, bare: map[string]struct{}{}}
}

func (x *vsIndex) add(system, code string) {
	m := x.codes[system]
	if m == nil {
		m = map[string]struct{}{}
		x.codes[system] = m
	}
	m[code] = struct{}{}
	x.bare[code] = struct{}{}
}

func (x *vsIndex) has(system, code string) bool {
	_, ok := x.codes[system][code]
	return ok
}

// addAll adds every code of another index.
func (x *vsIndex) addAll(o *vsIndex) {
	for sys, m := range o.codes {
		for c := range m {
			x.add(sys, c)
		}
	}
	for s := range o.systems {
		x.addSystem(s)
	}
	for s, f := range o.syntax {
		x.addSyntax(s, f)
	}
}

func (x *vsIndex) addSyntax(system string, f func(string) bool) {
	if x.syntax == nil {
		x.syntax = map[string]func(string) bool{}
	}
	x.syntax[system] = f
}

// bySystemOnly reports whether a Coding is in the value set only because
// its whole code system is, a system whose codes are not available here.
func (x *vsIndex) bySystemOnly(system, code string) bool {
	return x.problem == "" && x.systems[system] && !x.has(system, code)
}

func (x *vsIndex) addSystem(system string) {
	if x.systems == nil {
		x.systems = map[string]bool{}
	}
	x.systems[system] = true
}

// hasCoding reports whether a system and code are in the value set, and
// whether that could be decided.
func (x *vsIndex) hasCoding(system, code string) (in, known bool) {
	if x.problem != "" {
		return false, false
	}
	if x.has(system, code) {
		return true, true
	}
	if f := x.syntax[system]; f != nil {
		return f(code), true
	}
	if x.systems[system] {
		return true, true
	}
	return false, true
}

// hasCode reports whether a bare code is in the value set.
func (x *vsIndex) hasCode(code string) (in, known bool) {
	if x.problem != "" {
		return false, false
	}
	if _, ok := x.bare[code]; ok {
		return true, true
	}
	for _, f := range x.syntax {
		if f(code) {
			return true, true
		}
	}
	if len(x.systems) > 0 {
		return false, false
	}
	return false, true
}

// why says why membership could not be decided.
func (x *vsIndex) why() string {
	x.whyOnce.Do(func() {
		if x.problem != "" {
			x.whyText = x.problem
			return
		}
		var ss []string
		for s := range x.systems {
			ss = append(ss, s)
		}
		sort.Strings(ss)
		x.whyText = "it includes all of " + strings.Join(ss, ", ") + ", whose codes are not available here"
	})
	return x.whyText
}

// contains decides membership for a value of any coded shape: a code
// string, a Coding, a CodeableConcept (any of its codings) or a Quantity.
func (x *vsIndex) contains(v any, typ string) (in, known bool) {
	switch t := v.(type) {
	case string:
		return x.hasCode(t)
	case map[string]any:
		if cs, ok := t["coding"].([]any); ok || typ == "CodeableConcept" {
			known = true
			for _, c := range cs {
				cm, ok := c.(map[string]any)
				if !ok {
					continue
				}
				sys, _ := cm["system"].(string)
				code, _ := cm["code"].(string)
				i, k := x.hasCoding(sys, code)
				if i {
					return true, true
				}
				known = known && k
			}
			return false, known && len(cs) > 0
		}
		sys, _ := t["system"].(string)
		code, _ := t["code"].(string)
		if code == "" {
			return false, false
		}
		return x.hasCoding(sys, code)
	}
	return false, false
}

// valueSet returns the expansion of a value set canonical.
func (t *terminology) valueSet(url string) *vsIndex {
	return t.expand(url, nil)
}

// expand returns the cached expansion of a value set, building it when
// needed. The lock is not held while building: value sets include each
// other, and two goroutines expanding two such sets must not wait on each
// other. (At worst an expansion is built twice; the first stored wins.)
func (t *terminology) expand(url string, stack []string) *vsIndex {
	t.mu.Lock()
	idx, ok := t.vss[url]
	t.mu.Unlock()
	if ok {
		return idx
	}
	for _, s := range stack {
		if s == url {
			idx = newVSIndex(url)
			idx.problem = "value sets include each other in a cycle"
			return idx
		}
	}
	idx = t.build(url, append(stack, url))
	t.mu.Lock()
	if prev, ok := t.vss[url]; ok {
		idx = prev
	} else {
		t.vss[url] = idx
	}
	t.mu.Unlock()
	return idx
}

func (t *terminology) build(url string, stack []string) *vsIndex {
	idx := newVSIndex(url)
	vs, err := t.reg.ValueSet(url)
	if err != nil {
		idx.problem = err.Error()
		return idx
	}
	if vs == nil {
		idx.problem = "value set is not loaded"
		return idx
	}
	if vs.Expansion != nil && len(vs.Expansion.Contains) > 0 {
		n := addContains(idx, vs.Expansion.Contains)
		if vs.Expansion.Total == nil || *vs.Expansion.Total <= n {
			return idx
		}
		idx = newVSIndex(url) // a partial expansion: fall back to compose
	}
	if vs.Compose == nil {
		idx.problem = "value set has neither compose nor expansion"
		return idx
	}
	for _, inc := range vs.Compose.Include {
		part := t.conceptSet(inc, stack)
		if part.problem != "" {
			idx.problem = part.problem
			return idx
		}
		idx.addAll(part)
	}
	for _, exc := range vs.Compose.Exclude {
		part := t.conceptSet(exc, stack)
		if part.problem != "" || len(part.systems) > 0 || len(part.syntax) > 0 {
			idx.problem = "value set excludes codes that cannot be enumerated"
			return idx
		}
		for sys, m := range part.codes {
			for c := range m {
				delete(idx.codes[sys], c)
			}
		}
		// rebuild bare codes from what is left
		idx.bare = map[string]struct{}{}
		for _, m := range idx.codes {
			for c := range m {
				idx.bare[c] = struct{}{}
			}
		}
	}
	return idx
}

func addContains(idx *vsIndex, cs []packages.ExpansionContains) int {
	n := 0
	for _, c := range cs {
		if c.Code != "" && !c.Abstract {
			idx.add(c.System, c.Code)
			n++
		}
		n += addContains(idx, c.Contains)
	}
	return n
}

// conceptSet expands one include or exclude.
func (t *terminology) conceptSet(inc packages.ConceptSet, stack []string) *vsIndex {
	part := newVSIndex("")
	if inc.System != "" {
		switch {
		case len(inc.Concept) > 0:
			for _, c := range inc.Concept {
				part.add(inc.System, c.Code)
			}
		case len(inc.Filter) > 0:
			cs := t.codeSystem(inc.System)
			if cs == nil || !cs.complete {
				part.problem = fmt.Sprintf("filter on code system %s, which is not loaded", inc.System)
				return part
			}
			codes, err := cs.filter(inc.Filter)
			if err != nil {
				part.problem = err.Error()
				return part
			}
			for _, c := range codes {
				part.add(inc.System, c)
			}
		default:
			cs := t.codeSystem(inc.System)
			b, isBuiltin := builtin(inc.System)
			var codes []string
			if isBuiltin && b.codes != nil {
				codes = b.codes(t)
			}
			switch {
			case (cs == nil || !cs.complete) && (len(codes) > 0 || isBuiltin && b.syntax != nil):
				for _, c := range codes {
					part.add(inc.System, c)
				}
				if b.syntax != nil {
					part.addSyntax(inc.System, b.syntax)
				}
			case cs == nil || !cs.complete:
				part.addSystem(inc.System)
			default:
				for _, c := range cs.order {
					part.add(inc.System, c)
				}
			}
		}
	}
	if len(inc.ValueSet) == 0 {
		return part
	}
	// Value sets in one include are intersected (with the system part,
	// when there is one).
	var acc *vsIndex
	if inc.System != "" {
		acc = part
	}
	for _, ref := range inc.ValueSet {
		sub := t.expand(ref, stack)
		if sub.problem != "" {
			p := newVSIndex("")
			p.problem = fmt.Sprintf("included value set %s: %s", ref, sub.problem)
			return p
		}
		if acc == nil {
			acc = newVSIndex("")
			acc.addAll(sub)
			continue
		}
		if len(acc.systems) > 0 || len(sub.systems) > 0 || len(acc.syntax) > 0 || len(sub.syntax) > 0 {
			p := newVSIndex("")
			p.problem = "intersection with a code system that cannot be enumerated"
			return p
		}
		next := newVSIndex("")
		for sys, m := range acc.codes {
			for c := range m {
				if sub.has(sys, c) {
					next.add(sys, c)
				}
			}
		}
		acc = next
	}
	return acc
}

func (t *terminology) codeSystem(url string) *csIndex {
	t.mu.Lock()
	s, ok := t.css[url]
	if !ok {
		s = &csSlot{}
		t.css[url] = s
	}
	t.mu.Unlock()
	s.once.Do(func() {
		cs, err := t.reg.CodeSystem(url)
		if err != nil || cs == nil {
			return
		}
		idx := &csIndex{url: url, complete: cs.Content == "complete" || cs.Content == "", caseSensitive: cs.CaseSensitive == nil || *cs.CaseSensitive, concepts: map[string]*concept{}}
		var walk func(cs []packages.Concept, parent string)
		walk = func(list []packages.Concept, parent string) {
			for _, c := range list {
				k := idx.norm(c.Code)
				cn := idx.concepts[k]
				if cn == nil {
					cn = &concept{code: c.Code}
					idx.concepts[k] = cn
					idx.order = append(idx.order, c.Code)
				}
				if parent != "" {
					cn.parents = append(cn.parents, parent)
				}
				for _, p := range c.Property {
					if cn.props == nil {
						cn.props = map[string][]string{}
					}
					val := p.ValueCode + p.ValueString
					if p.ValueCoding != nil {
						val = p.ValueCoding.Code
					}
					if p.ValueBoolean != nil {
						val = fmt.Sprint(*p.ValueBoolean)
					}
					cn.props[p.Code] = append(cn.props[p.Code], val)
					if p.Code == "parent" || p.Code == "subsumedBy" {
						cn.parents = append(cn.parents, val)
					}
				}
				walk(c.Concept, c.Code)
			}
		}
		walk(cs.Concept, "")
		for _, cn := range idx.concepts {
			for _, p := range cn.parents {
				if pc := idx.concepts[idx.norm(p)]; pc != nil {
					pc.children = append(pc.children, cn.code)
				}
			}
		}
		s.idx = idx
	})
	return s.idx
}

func (c *csIndex) norm(code string) string {
	if c.caseSensitive {
		return code
	}
	return strings.ToLower(code)
}

// filter applies value set filters (all must hold) to a code system.
func (c *csIndex) filter(fs []packages.Filter) ([]string, error) {
	var out []string
	for _, code := range c.order {
		ok := true
		for _, f := range fs {
			m, err := c.matchFilter(code, f)
			if err != nil {
				return nil, err
			}
			if !m {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, code)
		}
	}
	return out, nil
}

func (c *csIndex) matchFilter(code string, f packages.Filter) (bool, error) {
	switch {
	case f.Property == "concept" && f.Op == "is-a":
		return code == f.Value || c.descends(code, f.Value, 0), nil
	case f.Property == "concept" && f.Op == "descendent-of":
		return code != f.Value && c.descends(code, f.Value, 0), nil
	case f.Property == "concept" && f.Op == "is-not-a":
		return code != f.Value && !c.descends(code, f.Value, 0), nil
	case f.Property == "concept" && f.Op == "in":
		for _, v := range strings.Split(f.Value, ",") {
			if strings.TrimSpace(v) == code {
				return true, nil
			}
		}
		return false, nil
	case f.Property == "concept" && f.Op == "=":
		return code == f.Value, nil
	case f.Op == "=":
		cn := c.concepts[c.norm(code)]
		if cn == nil {
			return false, nil
		}
		for _, v := range cn.props[f.Property] {
			if v == f.Value {
				return true, nil
			}
		}
		return false, nil
	case f.Op == "exists":
		cn := c.concepts[c.norm(code)]
		has := cn != nil && len(cn.props[f.Property]) > 0
		return has == (f.Value == "true"), nil
	}
	return false, fmt.Errorf("value set filter %s %s %s on %s is not supported", f.Property, f.Op, f.Value, c.url)
}

// descends reports whether code is below ancestor in the hierarchy.
func (c *csIndex) descends(code, ancestor string, depth int) bool {
	if depth > 50 {
		return false
	}
	cn := c.concepts[c.norm(code)]
	if cn == nil {
		return false
	}
	for _, p := range cn.parents {
		if c.norm(p) == c.norm(ancestor) || c.descends(p, ancestor, depth+1) {
			return true
		}
	}
	return false
}
