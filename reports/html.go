package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur": func(d time.Duration) string {
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(100 * time.Millisecond).String()
	},
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"lower": strings.ToLower,
	"bar":   bar,
	"sorted": func(m map[string]int) []kv {
		var out []kv
		for k, v := range m {
			out = append(out, kv{k, v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
		return out
	},
	"typeBars":  typeBars,
	"headers":   headers,
	"statusCls": statusClass,
	"verdictCls": func(v string) string {
		return strings.ReplaceAll(v, " ", "-")
	},
}).Parse(htmlTemplate))

type kv struct {
	K string
	V int
}

// WriteHTML renders the self-contained HTML report.
func WriteHTML(w io.Writer, r *Run) error {
	return tmpl.Execute(w, r)
}

// bar draws one area's passed/failed/warning/skipped split as an inline SVG.
func bar(a Area) template.HTML {
	total := a.Passed + a.Failed + a.Skipped + a.Warnings
	if total == 0 {
		return ""
	}
	const width = 240.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" width="%d" height="14" viewBox="0 0 %d 14" role="img" aria-label="%d passed, %d failed, %d warnings, %d skipped">`,
		int(width), int(width), a.Passed, a.Failed, a.Warnings, a.Skipped)
	x := 0.0
	for _, part := range []struct {
		n   int
		cls string
	}{{a.Passed, "passed"}, {a.Failed, "failed"}, {a.Warnings, "warning"}, {a.Skipped, "skipped"}} {
		if part.n == 0 {
			continue
		}
		w := width * float64(part.n) / float64(total)
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="0" width="%.1f" height="14"/>`, part.cls, x, w)
		x += w
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// typeBars draws a horizontal bar chart of counts per resource type.
func typeBars(m map[string]int, cls string) template.HTML {
	if len(m) == 0 {
		return template.HTML(`<p class="muted">none</p>`)
	}
	var keys []string
	max := 0
	for k, v := range m {
		keys = append(keys, k)
		if v > max {
			max = v
		}
	}
	sort.Strings(keys)
	const width, row = 220.0, 18
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="420" height="%d" role="img">`, row*len(keys)+4)
	for i, k := range keys {
		y := i*row + 2
		w := width * float64(m[k]) / float64(max)
		fmt.Fprintf(&b, `<text x="150" y="%d" text-anchor="end">%s</text>`, y+12, template.HTMLEscapeString(k))
		fmt.Fprintf(&b, `<rect class="%s" x="156" y="%d" width="%.1f" height="13"/>`, cls, y, w)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%d</text>`, 160+w, y+12, m[k])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func headers(h map[string][]string) string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	return b.String()
}

func statusClass(code int) string {
	switch {
	case code == 0:
		return "failed"
	case code < 300:
		return "passed"
	case code < 500:
		return "warning"
	}
	return "failed"
}
