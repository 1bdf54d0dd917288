// Package fhirpath evaluates FHIRPath expressions over FHIR resources
// decoded from JSON (map[string]any, with json.Number for numbers).
//
// It implements the part of FHIRPath that FHIR invariants use: paths,
// operators, the existence, filtering, subsetting, combining, string, type
// and conversion functions, and the FHIR additions resolve(), extension(),
// memberOf(), hasValue() and the %resource family of variables. What it
// does not implement it reports as ErrUnsupported, never as a false result.
package fhirpath

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrUnsupported marks an expression, or an evaluation, that this
// implementation cannot do.
var ErrUnsupported = errors.New("not supported")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tOp
	tVar // %name
	tSpecial
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			i += end + 4
		case c == '\'':
			s, n, err := readQuoted(src[i:], '\'')
			if err != nil {
				return nil, err
			}
			out = append(out, token{tString, s, i})
			i += n
		case c == '`':
			s, n, err := readQuoted(src[i:], '`')
			if err != nil {
				return nil, err
			}
			out = append(out, token{tIdent, s, i})
			i += n
		case c == '@':
			j := i + 1
			for j < len(src) && (isDigit(src[j]) || strings.IndexByte("-:.TZ+", src[j]) >= 0) {
				j++
			}
			out = append(out, token{tDate, src[i+1 : j], i})
			i = j
		case c == '%':
			j := i + 1
			if j < len(src) && (src[j] == '\'' || src[j] == '`') {
				s, n, err := readQuoted(src[j:], src[j])
				if err != nil {
					return nil, err
				}
				out = append(out, token{tVar, s, i})
				i = j + n
				continue
			}
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			out = append(out, token{tVar, src[i+1 : j], i})
			i = j
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			out = append(out, token{tSpecial, src[i:j], i})
			i = j
		case isDigit(c):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			out = append(out, token{tIdent, src[i:j], i})
			i = j
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "!=", "!~", "<=", ">=":
				out = append(out, token{tOp, two, i})
				i += 2
				continue
			}
			if strings.IndexByte(".()[],=~<>|+-*/&{}", c) >= 0 {
				out = append(out, token{tOp, string(c), i})
				i++
				continue
			}
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return append(out, token{tEOF, "", len(src)}), nil
}

func readQuoted(s string, q byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if i+4 < len(s) {
					if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
						b.WriteRune(rune(r))
						i += 4
						continue
					}
				}
				b.WriteByte('u')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(c)
	}
	return "", 0, fmt.Errorf("unterminated quoted text")
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// node kinds of the syntax tree
type nodeKind int

const (
	nLiteral nodeKind = iota
	nEmpty
	nMember // name on the focus, or on recv
	nFunc   // function call on recv (or focus)
	nBinary // op
	nUnary  // - or +
	nIndex  // recv[arg]
	nVar    // %name
	nThis   // $this
	nIndexV // $index
	nTotal  // $total
	nTypeOp // is / as with a type name
)

type node struct {
	kind nodeKind
	op   string
	name string
	lit  Item
	recv *node
	args []*node
	re   *regexp.Regexp // a matches() pattern given as a literal
}

// Expr is a parsed expression.
type Expr struct {
	src  string
	root *node
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Bounds of what Parse reads. Invariants come from definitions, not from
// the data validated, but the parser recurses once per nesting level and
// must fail cleanly on anything. The longest invariant of the shipped
// packages is under 2 KiB, and nests a few levels.
const (
	maxSource  = 64 << 10
	maxNesting = 256
)

// Parse parses an expression. Functions the evaluator does not know make
// it fail with ErrUnsupported.
func Parse(src string) (*Expr, error) {
	if len(src) > maxSource {
		return nil, fmt.Errorf("expression of %d bytes: longer than %d", len(src), maxSource)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at %d", p.peek().text, p.peek().pos)
	}
	if err := checkFuncs(n); err != nil {
		return nil, err
	}
	return &Expr{src: src, root: n}, nil
}

type parser struct {
	toks  []token
	i     int
	depth int // nesting of expr and unary calls
}

// nest counts one level of recursion; the caller undoes it with
// p.depth--.
func (p *parser) nest() error {
	p.depth++
	if p.depth > maxNesting {
		return fmt.Errorf("expression nested more than %d levels at %d", maxNesting, p.peek().pos)
	}
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// binary operator precedence, low to high
var precedence = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5,
	"<": 6, ">": 6, "<=": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
}

func (p *parser) binOp() (string, int, bool) {
	t := p.peek()
	if t.kind != tOp && t.kind != tIdent {
		return "", 0, false
	}
	prec, ok := precedence[t.text]
	if !ok {
		return "", 0, false
	}
	return t.text, prec, true
}

func (p *parser) expr(minPrec int) (*node, error) {
	defer func() { p.depth-- }()
	if err := p.nest(); err != nil {
		return nil, err
	}
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, prec, ok := p.binOp()
		if !ok || prec <= minPrec {
			return left, nil
		}
		p.next()
		if op == "is" || op == "as" {
			tn, err := p.typeName()
			if err != nil {
				return nil, err
			}
			left = &node{kind: nTypeOp, op: op, name: tn, recv: left}
			continue
		}
		right, err := p.expr(prec)
		if err != nil {
			return nil, err
		}
		left = &node{kind: nBinary, op: op, args: []*node{left, right}}
	}
}

func (p *parser) typeName() (string, error) {
	t := p.next()
	if t.kind != tIdent {
		return "", fmt.Errorf("expected a type name at %d", t.pos)
	}
	name := t.text
	for p.peek().kind == tOp && p.peek().text == "." {
		p.next()
		t = p.next()
		if t.kind != tIdent {
			return "", fmt.Errorf("expected a type name at %d", t.pos)
		}
		name += "." + t.text
	}
	return name, nil
}

func (p *parser) unary() (*node, error) {
	defer func() { p.depth-- }()
	if err := p.nest(); err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{kind: nUnary, op: t.text, args: []*node{n}}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (*node, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tOp && t.text == ".":
			p.next()
			id := p.next()
			if id.kind != tIdent {
				return nil, fmt.Errorf("expected a name after '.' at %d", id.pos)
			}
			if p.peek().kind == tOp && p.peek().text == "(" {
				args, err := p.callArgs()
				if err != nil {
					return nil, err
				}
				n = &node{kind: nFunc, name: id.text, recv: n, args: args}
			} else {
				n = &node{kind: nMember, name: id.text, recv: n}
			}
		case t.kind == tOp && t.text == "[":
			p.next()
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.text != "]" {
				return nil, fmt.Errorf("expected ']' at %d", c.pos)
			}
			n = &node{kind: nIndex, recv: n, args: []*node{idx}}
		default:
			return n, nil
		}
	}
}

func (p *parser) callArgs() ([]*node, error) {
	p.next() // (
	var args []*node
	if p.peek().kind == tOp && p.peek().text == ")" {
		p.next()
		return args, nil
	}
	for {
		a, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		t := p.next()
		if t.text == ")" {
			return args, nil
		}
		if t.text != "," {
			return nil, fmt.Errorf("expected ',' or ')' at %d", t.pos)
		}
	}
}

func (p *parser) term() (*node, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &node{kind: nLiteral, lit: Item{V: t.text, T: "String"}}, nil
	case tNumber:
		if strings.Contains(t.text, ".") {
			f, _ := strconv.ParseFloat(t.text, 64)
			return &node{kind: nLiteral, lit: Item{V: f, T: "Decimal"}}, nil
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, err
		}
		// a quantity literal: 4 'mg' or 1 year: not supported
		if nt := p.peek(); nt.kind == tString {
			return nil, unsupported("quantity literals")
		}
		return &node{kind: nLiteral, lit: Item{V: n, T: "Integer"}}, nil
	case tDate:
		typ := "DateTime"
		if strings.HasPrefix(t.text, "T") {
			typ = "Time"
		} else if !strings.Contains(t.text, "T") {
			typ = "Date"
		}
		return &node{kind: nLiteral, lit: Item{V: strings.TrimPrefix(t.text, "T"), T: typ}}, nil
	case tVar:
		return &node{kind: nVar, name: t.text}, nil
	case tSpecial:
		switch t.text {
		case "$this":
			return &node{kind: nThis}, nil
		case "$index":
			return &node{kind: nIndexV}, nil
		case "$total":
			return &node{kind: nTotal}, nil
		}
		return nil, fmt.Errorf("unknown %s", t.text)
	case tOp:
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.text != ")" {
				return nil, fmt.Errorf("expected ')' at %d", c.pos)
			}
			return n, nil
		case "{":
			if c := p.next(); c.text != "}" {
				return nil, fmt.Errorf("expected '}' at %d", c.pos)
			}
			return &node{kind: nEmpty}, nil
		}
	case tIdent:
		switch t.text {
		case "true":
			return &node{kind: nLiteral, lit: Item{V: true, T: "Boolean"}}, nil
		case "false":
			return &node{kind: nLiteral, lit: Item{V: false, T: "Boolean"}}, nil
		}
		if p.peek().kind == tOp && p.peek().text == "(" {
			args, err := p.callArgs()
			if err != nil {
				return nil, err
			}
			return &node{kind: nFunc, name: t.text, args: args}, nil
		}
		return &node{kind: nMember, name: t.text}, nil
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// checkFuncs rejects, at parse time, functions the evaluator lacks, so
// that they count as unsupported rather than failing at run time.
func checkFuncs(n *node) error {
	if n == nil {
		return nil
	}
	if n.kind == nFunc {
		if _, ok := functions[n.name]; !ok {
			return unsupported("function %s()", n.name)
		}
		if n.name == "matches" && len(n.args) == 1 && n.args[0].kind == nLiteral {
			if pat, ok := n.args[0].lit.V.(string); ok {
				re, err := regexp.Compile(pat)
				if err != nil {
					return unsupported("regular expression %q: %v", pat, err)
				}
				n.args[0].re = re
			}
		}
	}
	if err := checkFuncs(n.recv); err != nil {
		return err
	}
	for _, a := range n.args {
		if err := checkFuncs(a); err != nil {
			return err
		}
	}
	return nil
}
