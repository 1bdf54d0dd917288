package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

//go:embed report.html.tmpl
var htmlTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":         dur,
	"when":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"num":         num,
	"bytes":       byteSize,
	"cls":         func(s string) string { return strings.ReplaceAll(s, " ", "-") },
	"areaChart":   areaChart,
	"typeChart":   typeChart,
	"headers":     headers,
	"statusCls":   statusClass,
	"pretty":      pretty,
	"reqText":     reqText,
	"join":        strings.Join,
	"firstLine":   firstLine,
	"restLines":   restLines,
	"hasMore":     func(summary, full string) bool { return strings.TrimSpace(summary) != strings.TrimSpace(full) },
	"sum":         total,
	"exchanges":   citedExchanges,
	"notPassed":   notPassed,
	"contentType": func(h map[string][]string) string { return firstHeader(h, "Content-Type") },
	"shownFirst":  func(v evidence.Validation) int { return len(v.First) },
	"ndjson":      isNDJSON,
	"preview":     func() int64 { return evidence.BodyPreview },
	"oneLine":     func(s string) string { return clip(summaryLine(s)) },
	"linkIDs":     linkIDs,
	"add":         func(a, b int) int { return a + b },
	"reqCounts":   reqCounts,
	"resource":    resourceHTML,
	"isCause":     isCause,
}).Parse(htmlTemplate))

// isCause reports whether a reason is one of the root causes, which the
// banner lists on their own, with their fix.
func isCause(v htmlView, reason string) bool {
	for _, c := range v.Causes {
		if strings.HasPrefix(reason, c.What) {
			return true
		}
	}
	return false
}

// htmlView is what the template renders: the model plus lookups.
type htmlView struct {
	*Run
	// SpecNames maps spec IDs to names, for the requirement table's links.
	SpecNames map[string]string
	Groups    []specGroup
}

type specGroup struct {
	Area  string
	Specs []Spec
}

// WriteHTML renders the self-contained HTML report: one file with its
// styles, pictures (inline SVG) and a small script inline, readable offline
// and in print, and complete without the script.
func WriteHTML(w io.Writer, r *Run) error {
	v := htmlView{Run: r, SpecNames: map[string]string{}}
	for _, s := range r.Specs {
		v.SpecNames[s.ID] = s.Name
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Area != s.Area {
			v.Groups = append(v.Groups, specGroup{Area: s.Area})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Specs = append(g.Specs, s)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < time.Millisecond:
		return "<1 ms"
	case d < time.Second:
		return strconv.Itoa(int(d.Milliseconds())) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}

// num writes an integer with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func restLines(s string) string {
	_, rest, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(rest)
}

func reqText(id string) string {
	if r, ok := catalog.Lookup(id); ok {
		return r.Text
	}
	return ""
}

// Chart geometry, in SVG user units (the SVGs scale to their box).
const (
	chartWidth = 640
	rowHeight  = 24
	barHeight  = 14
	charWidth  = 7.2 // average glyph width at the chart's 12px font
)

// areaChart draws, per scenario area, a bar split into passed, failed,
// warnings and skipped, scaled to the largest area, with the numbers in
// words beside it.
func areaChart(areas []Area) template.HTML {
	maxTotal, labelW := 1, 0
	for _, a := range areas {
		maxTotal = max(maxTotal, a.Total())
		labelW = max(labelW, len(a.Name))
	}
	label := float64(labelW)*charWidth + 12
	barMax := 240.0
	var b strings.Builder
	h := rowHeight*len(areas) + 4
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="area-chart-title">`, chartWidth, h, chartWidth, h)
	b.WriteString(`<title id="area-chart-title">Specs per scenario area: passed, failed, warnings, skipped</title>`)
	for i, a := range areas {
		y := i*rowHeight + 4
		fmt.Fprintf(&b, `<text class="label" x="%.0f" y="%d" text-anchor="end">%s</text>`, label-8, y+12, template.HTMLEscapeString(a.Name))
		// Every row has a track, so that an area with few specs and one
		// with none read differently.
		fmt.Fprintf(&b, `<rect class="none" x="%.0f" y="%d" width="%.1f" height="%d"/>`, label, y+1, barMax, barHeight)
		if a.Total() == 0 {
			fmt.Fprintf(&b, `<text class="muted" x="%.0f" y="%d">no specs run</text>`, label+barMax+8, y+12)
			continue
		}
		x := label
		var words []string
		for _, part := range []struct {
			n         int
			cls, word string
		}{{a.Passed, Passed, "passed"}, {a.Failed, Failed, "failed"}, {a.Warnings, Warning, "warning"}, {a.Skipped, Skipped, "skipped"}} {
			if part.n == 0 {
				continue
			}
			w := barMax * float64(part.n) / float64(maxTotal)
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d"><title>%d %s</title></rect>`, part.cls, x, y+1, w, barHeight, part.n, part.word)
			x += w
			word := part.word
			if part.cls == Warning && part.n > 1 {
				word = "warnings"
			}
			words = append(words, fmt.Sprintf("%d %s", part.n, word))
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%s</text>`, label+barMax+8, y+12, strings.Join(words, ", "))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// typeChart draws a horizontal bar per resource type, largest first.
func typeChart(m map[string]int, cls, title string) template.HTML {
	type kv struct {
		k string
		v int
	}
	var rows []kv
	maxV, labelW := 1, 0
	for k, v := range m {
		rows = append(rows, kv{k, v})
		maxV = max(maxV, v)
		labelW = max(labelW, len(k))
	}
	slices.SortFunc(rows, func(a, b kv) int {
		if a.v != b.v {
			return b.v - a.v
		}
		return strings.Compare(a.k, b.k)
	})
	label := float64(labelW)*charWidth + 12
	barMax := 300.0
	var b strings.Builder
	h := rowHeight*len(rows) + 4
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img"><title>%s</title>`, chartWidth, h, chartWidth, h, template.HTMLEscapeString(title))
	for i, r := range rows {
		y := i*rowHeight + 4
		w := max(barMax*float64(r.v)/float64(maxV), 1)
		fmt.Fprintf(&b, `<text class="label" x="%.0f" y="%d" text-anchor="end">%s</text>`, label-8, y+12, template.HTMLEscapeString(r.k))
		fmt.Fprintf(&b, `<rect class="%s" x="%.0f" y="%d" width="%.1f" height="%d"/>`, cls, label, y+1, w, barHeight)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, label+w+6, y+12, num(r.v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func headers(h map[string][]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	return b.String()
}

func statusClass(code int) string {
	switch {
	case code == 0:
		return Failed
	case code < 300:
		return Passed
	case code < 500:
		return Warning
	}
	return Failed
}

// pretty indents a JSON body for reading; anything else (NDJSON, forms, a
// cut preview) is returned as it is.
func pretty(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		return s
	}
	if strings.Contains(t, "\n") {
		// NDJSON: one resource per line reads best as it is.
		return s
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(t), "", "  "); err != nil {
		return s
	}
	return out.String()
}

// citedExchange is an exchange, marked when the failure message names its
// URL: that is the exchange a reader wants to see first.
type citedExchange struct {
	evidence.Exchange
	Cited bool
}

// citedExchanges marks the exchanges the failure names and lists them
// first, open; the others follow in the order they happened.
func citedExchanges(exs []evidence.Exchange, failure string) []citedExchange {
	out := make([]citedExchange, len(exs))
	for i, ex := range exs {
		out[i] = citedExchange{Exchange: ex, Cited: names(failure, ex.URL)}
	}
	slices.SortStableFunc(out, func(a, b citedExchange) int {
		switch {
		case a.Cited == b.Cited:
			return 0
		case a.Cited:
			return -1
		}
		return 1
	})
	return out
}

// isNDJSON reports whether a body preview holds several JSON lines: it is
// shown unwrapped, one resource per line.
func isNDJSON(body string) bool {
	first, rest, ok := strings.Cut(strings.TrimSpace(body), "\n")
	return ok && strings.HasPrefix(first, "{") && strings.HasPrefix(strings.TrimSpace(rest), "{")
}

// names reports whether text contains url as a whole URL, not as the start
// of a longer one.
func names(text, url string) bool {
	if url == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], url)
		if j < 0 {
			return false
		}
		end := i + j + len(url)
		if end == len(text) || !strings.ContainsRune("/?&=#%._~-+:@!$'()*,;", rune(text[end])) && !isAlnum(text[end]) {
			return true
		}
		i = end
	}
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// maxGlance bounds the "what did not pass" list at the top of the report.
const maxGlance = 25

type glance struct {
	Items []glanceItem
	More  int
}

type glanceItem struct {
	Spec
	// Same says the failure is the one of the item before (a shared step
	// failing fails every spec that needs it), so it is not repeated.
	Same bool
}

// notPassed lists failed specs, then warnings, for the top of the report;
// skipped specs are left to the spec list. It returns nil when every spec
// passed or was skipped.
func notPassed(specs []Spec) *glance {
	g := &glance{}
	previous := ""
	for _, state := range []string{Failed, Warning} {
		for _, s := range specs {
			switch {
			case s.State != state:
			case len(g.Items) < maxGlance:
				g.Items = append(g.Items, glanceItem{Spec: s, Same: s.Summary == previous})
				previous = s.Summary
			default:
				g.More++
			}
		}
	}
	if len(g.Items) == 0 {
		return nil
	}
	return g
}

var requirementID = regexp.MustCompile(`\bPA-[A-Z]+-\d+\b`)

// linkIDs escapes text and links the requirement IDs in it to their rows
// of the requirement table.
func linkIDs(text string) template.HTML {
	esc := template.HTMLEscapeString(text)
	return template.HTML(requirementID.ReplaceAllStringFunc(esc, func(id string) string {
		return `<a href="#req-` + id + `">` + id + `</a>`
	}))
}

type statusCount struct {
	Status string
	N      int
}

// reqCounts counts requirements by status, in a fixed order.
func reqCounts(rs []Requirement) []statusCount {
	var out []statusCount
	for _, st := range []string{Passed, Failed, Warning, Blocked, Skipped, PartlyTested, NotTested, NotApplicable} {
		n := 0
		for _, r := range rs {
			if r.Status == st {
				n++
			}
		}
		if n > 0 {
			out = append(out, statusCount{st, n})
		}
	}
	return out
}
