package fhirpath

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// The fuzz targets' seed corpora are in testdata/fuzz/<target>: the
// invariants of the shipped FHIR packages (FuzzParse, FuzzEval) and
// narratives of their examples (FuzzHTML), besides the seeds added below.
//
//	go test ./validators/profile/fhirpath -run '^$' -fuzz FuzzParse -fuzztime 60s

// FuzzParse parses any text: Parse returns an expression or an error,
// never panics, and what it accepts it accepts again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"name.given.first()", "a or b and c implies d", "(1 + 2) * 3 div 4 mod 5", "'a\\u0041' & 'b'",
		"where(value.as(Quantity).value > 0).exists()", "%resource.descendants().reference", "@2020-01-01T10:00:00Z < now()",
		"$this is Coding", "iif(a, b, c)", strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300),
		strings.Repeat("-", 300) + "1", strings.Repeat("a.", 2000) + "a", "`div`.exists()", "4 'mg'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := Parse(src)
		if err != nil {
			return
		}
		if x.String() != src {
			t.Fatalf("String() = %q, want %q", x.String(), src)
		}
		if _, err := Parse(src); err != nil {
			t.Fatalf("parsed once, then failed: %v", err)
		}
	})
}

// fuzzModel types nothing, resolves references by their type segment and
// decides no value set: the evaluator must cope with an unhelpful model.
type fuzzModel struct{}

func (fuzzModel) ChildType(string, string) (string, string, bool) { return "", "", false }
func (fuzzModel) Resolve(ref string) (map[string]any, string) {
	typ, _, _ := strings.Cut(ref, "/")
	return nil, typ
}
func (fuzzModel) MemberOf(Item, string) (bool, bool) { return false, false }

// FuzzEval evaluates any expression the parser accepts on any JSON
// resource: it returns a collection or an error, never panics, and ends
// within the evaluator's bounds.
func FuzzEval(f *testing.F) {
	res := `{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234-5"}]},` +
		`"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":1.5,"unit":"mg"},"contained":[{"resourceType":"Patient","id":"c1"}],` +
		`"component":[{"code":{"text":"a"},"valueString":"x"},{"code":{"text":"b"},"valueInteger":3}],"_status":{"extension":[{"url":"u","valueBoolean":true}]}}`
	for _, s := range []string{
		"status = 'final'", "component.where(code.text = 'a').value.exists()", "contained.where(('#'+id in %resource.descendants().reference).not()).empty()",
		"descendants().count() > 3", "value.as(Quantity).value * 2 > 2.5", "code.coding.exists(system = 'http://loinc.org')", "subject.resolve() is Patient",
		"(component | component | component).isDistinct()", "'ab'.replace('', 'xyz').length()", "today() <= now()", "status.extension('u').value",
		"component.select(code.text & value.toString()).distinct().count()", "code.memberOf('http://example.org/vs')", "iif(status.exists(), 1, 0) + 1",
	} {
		f.Add(s, []byte(res))
	}
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		x, err := Parse(src)
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v map[string]any
		if d.Decode(&v) != nil || depthOf(v) > 64 {
			return // the validators decode and bound resources first
		}
		env := &Env{Model: fuzzModel{}, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		env.Resource = Item{V: v, T: "Observation", Def: "Observation"}
		env.RootResource, env.Context = env.Resource, env.Resource
		start := time.Now()
		out, err := x.Eval(env, []Item{env.Resource})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("evaluation took %v", d)
		}
		if err == nil && len(out) > maxCollection {
			t.Fatalf("%d items: over the bound", len(out))
		}
		if errors.Is(err, errTooCostly) && !errors.Is(err, ErrUnsupported) {
			t.Fatal("a bound reached is not reported as unsupported")
		}
	})
}

func depthOf(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, c := range x {
			d = max(d, depthOf(c))
		}
		return d + 1
	case []any:
		d := 0
		for _, c := range x {
			d = max(d, depthOf(c))
		}
		return d + 1
	}
	return 0
}

// FuzzHTML checks any text as a narrative: CheckHTML never panics, and a
// narrative it allows is well-formed XML (encoding/xml, strict, with the
// HTML entities) rooted in one XHTML div: the hand-written scanner may
// refuse more than XML does (elements FHIR does not allow, scripts), never
// less.
func FuzzHTML(f *testing.F) {
	for _, s := range []string{
		`<div xmlns="http://www.w3.org/1999/xhtml">text</div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b &#160; &nbsp;</p><br/><img src="x.png"/></div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml"><table><tr><td>1</td></tr></table><!-- c --><![CDATA[x]]></div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:alert(1)">x</a></div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml" onclick="x">y</div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>`,
		`<div>no namespace</div>`, `<div xmlns="http://www.w3.org/1999/xhtml"><p>unclosed</div>`, `text`, ``,
		`<div xmlns="http://www.w3.org/1999/xhtml"></div><div xmlns="http://www.w3.org/1999/xhtml"></div>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		allowed, _ := CheckHTML(s)
		if !allowed {
			return
		}
		if err := wellFormedXHTMLDiv(s); err != nil {
			t.Fatalf("allowed, but %v", err)
		}
	})
}

// wellFormedXHTMLDiv parses s with encoding/xml and checks that it is one
// element, a div in the XHTML namespace, with nothing but space around it.
func wellFormedXHTMLDiv(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 || x.Name.Local != "div" || x.Name.Space != xhtmlNS {
					return errors.New("the root is not one XHTML div")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(x)) > 0 {
				return errors.New("text outside the div")
			}
		case xml.ProcInst, xml.Directive:
			return errors.New("a processing instruction or directive")
		}
	}
	if roots != 1 {
		return errors.New("no root element")
	}
	return nil
}
