package reports

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/evidence"
)

func TestResourceHTMLMarksTheElementsAtFault(t *testing.T) {
	r := evidence.Resource{
		Key:   "ExplanationOfBenefit/e1",
		JSON:  `{"resourceType":"ExplanationOfBenefit","id":"e1","total":[{"amount":{"value":10}}],"item":[{"sequence":1,"adjudication":[{"category":{"text":"a"}},{"amount":{"value":5}}]}],"note":"<b>"}`,
		Paths: []string{"ExplanationOfBenefit.total", "ExplanationOfBenefit.item[0].adjudication[1].amount"},
	}
	got := string(resourceHTML(r))
	for _, want := range []string{
		`<mark class="fault" title="total">&#34;total&#34;: [`,
		`<mark class="fault" title="item[0].adjudication[1].amount">&#34;amount&#34;: {`,
		"\n  &#34;id&#34;: &#34;e1&#34;", // pretty-printed, members in the server's order
		"&#34;\\u003cb\\u003e&#34;",      // escaped
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the rendering lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "<mark"); n != 2 {
		t.Errorf("%d elements marked, want 2 (the first adjudication has no amount):\n%s", n, got)
	}
	// A resource cut for length is shown as it is.
	cut := evidence.Resource{JSON: `{"resourceType":"Patient","id":"p1","name":[{"fam…`, Paths: []string{"Patient.name"}}
	if got := string(resourceHTML(cut)); got != "{&#34;resourceType&#34;:&#34;Patient&#34;,&#34;id&#34;:&#34;p1&#34;,&#34;name&#34;:[{&#34;fam…" {
		t.Errorf("a cut resource renders as %q", got)
	}
}
