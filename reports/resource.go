package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"

	"github.com/pdex-conform/pdex-conform/evidence"
)

// resourceHTML pretty-prints an exported resource the spec found at fault,
// two spaces per level, members in the order the server wrote them, with
// each offending element (its key and value) marked. A resource that is not
// whole JSON (cut for length) is shown as it is.
func resourceHTML(r evidence.Resource) template.HTML {
	exact, loose := map[string]bool{}, map[string]bool{}
	for _, p := range r.Paths {
		p = relativePath(p)
		if strings.Contains(p, "[") {
			exact[p] = true
		} else {
			loose[p] = true
		}
	}
	p := &printer{exact: exact, loose: loose}
	dec := json.NewDecoder(strings.NewReader(r.JSON))
	dec.UseNumber()
	if err := p.value(dec, "", 0); err != nil {
		return template.HTML(template.HTMLEscapeString(r.JSON))
	}
	if _, err := dec.Token(); err != io.EOF {
		return template.HTML(template.HTMLEscapeString(r.JSON))
	}
	return template.HTML(p.buf.String())
}

// relativePath drops the resource type a path starts with:
// "ExplanationOfBenefit.item[0].net" is "item[0].net" inside the resource.
func relativePath(p string) string {
	head, rest, ok := strings.Cut(p, ".")
	if ok && head != "" && head[0] >= 'A' && head[0] <= 'Z' {
		return rest
	}
	if ok {
		return p
	}
	if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
		return "" // the resource itself
	}
	return p
}

var indexes = regexp.MustCompile(`\[\d+\]`)

type printer struct {
	buf          bytes.Buffer
	exact, loose map[string]bool
}

func (p *printer) marked(path string) bool {
	return path != "" && (p.exact[path] || p.loose[indexes.ReplaceAllString(path, "")])
}

func (p *printer) indent(n int) {
	p.buf.WriteString("\n")
	p.buf.WriteString(strings.Repeat("  ", n))
}

// value prints the next JSON value at path.
func (p *printer) value(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			p.buf.WriteString("{")
			n := 0
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, ok := kt.(string)
				if !ok {
					return fmt.Errorf("object key %v", kt)
				}
				if n > 0 {
					p.buf.WriteString(",")
				}
				n++
				p.indent(depth + 1)
				child := key
				if path != "" {
					child = path + "." + key
				}
				mark := p.marked(child)
				if mark {
					p.buf.WriteString(`<mark class="fault" title="` + template.HTMLEscapeString(child) + `">`)
				}
				p.buf.WriteString(template.HTMLEscapeString(quote(key)) + ": ")
				if err := p.value(dec, child, depth+1); err != nil {
					return err
				}
				if mark {
					p.buf.WriteString("</mark>")
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if n > 0 {
				p.indent(depth)
			}
			p.buf.WriteString("}")
		case '[':
			p.buf.WriteString("[")
			i := 0
			for dec.More() {
				if i > 0 {
					p.buf.WriteString(",")
				}
				p.indent(depth + 1)
				child := fmt.Sprintf("%s[%d]", path, i)
				mark := p.exact[child]
				if mark {
					p.buf.WriteString(`<mark class="fault">`)
				}
				if err := p.value(dec, child, depth+1); err != nil {
					return err
				}
				if mark {
					p.buf.WriteString("</mark>")
				}
				i++
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if i > 0 {
				p.indent(depth)
			}
			p.buf.WriteString("]")
		}
	case string:
		p.buf.WriteString(template.HTMLEscapeString(quote(t)))
	case json.Number:
		p.buf.WriteString(t.String())
	case bool:
		fmt.Fprint(&p.buf, t)
	case nil:
		p.buf.WriteString("null")
	}
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
