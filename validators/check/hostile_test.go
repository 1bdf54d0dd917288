package check_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestHostileContent feeds each checker shapes of JSON a hostile or broken
// target could send: each must end in a clear verdict (an error that says
// what is wrong, or, where R4 allows the shape, no error), without a crash
// or a stack overflow, and in memory bounded by a small multiple of the
// input.
func TestHostileContent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds inputs of hundreds of megabytes")
	}
	reg := packagestest.Registry(t)
	engine := check.New(reg, check.Options{StructureOnly: true, NoFinancialRule: true})
	google := check.New(nil, check.Options{})
	const mib = 1 << 20
	patient := func(body string) []byte {
		return []byte(`{"resourceType":"Patient","id":"p1",` + body + `}`)
	}
	tests := []struct {
		name string
		raw  []byte
		// want is in the message of an error of the engine ("" = no
		// error: R4 allows it); googleWant the same without packages
		// ("-": only that it survives; its verdict and memory are its
		// own).
		want, googleWant string
	}{
		{"100,000 levels of nesting",
			patient(`"extension":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)),
			"nested more than 512 levels", "nested more than 512 levels"},
		{"an integer of 30 digits",
			patient(`"multipleBirthInteger":123456789012345678901234567890`),
			"out of the range of integer", "-"},
		{"an integer of 100,000 digits",
			patient(`"multipleBirthInteger":` + strings.Repeat("9", 100_000)),
			"out of the range of integer", "-"},
		{"a decimal beyond float64 (R4 decimals have no range)",
			[]byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e999999}}`),
			"", "-"},
		{"a decimal of 100,000 digits (R4 decimals have no precision limit)",
			[]byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.` + strings.Repeat("3", 100_000) + `}}`),
			"", "-"},
		{"invalid UTF-8 in a string",
			patient("\"name\":[{\"text\":\"Ren\xe9e\"}]"),
			"not valid UTF-8", "not valid UTF-8"},
		{"a million-item array",
			patient(`"identifier":[` + strings.Repeat(`{"value":"1"},`, 1_000_000) + `{"value":"1"}]`),
			"too large to validate", "too large to validate"},
		{"a million numbers",
			patient(`"identifier":[` + strings.Repeat(`0,`, 1_000_000) + `0]`),
			"too large to validate", "too large to validate"},
		{"a 64 MiB string",
			patient(`"name":[{"text":"` + strings.Repeat("a", 64*mib) + `"}]`),
			"string values are at most 1048576", "-"},
		{"a 64 MiB string in an unknown element",
			patient(`"colour":"` + strings.Repeat("a", 64*mib) + `"`),
			"unknown element", "unknown field"},
		{"a 64 MiB base64 attachment (R4 sets no limit on base64Binary)",
			[]byte(`{"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"` + strings.Repeat("QUJD", 16*mib) + `"}`),
			"", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, side := range []struct {
				name string
				c    *check.Checker
				want string
			}{{"engine", engine, tt.want}, {"google/fhir/go", google, tt.googleWant}} {
				grew, issues := allocated(func() []validators.Issue { return side.c.Check(tt.raw) })
				if limit := 3*uint64(len(tt.raw)) + 64*mib; grew > limit && side.c == engine {
					t.Errorf("%s: allocated %d MiB for a %d MiB input", side.name, grew/mib, len(tt.raw)/mib)
				}
				t.Logf("%s: %d MiB allocated for %d KiB", side.name, grew/mib, len(tt.raw)>>10)
				if side.want == "-" {
					continue // no crash is all that is asked of it
				}
				var msgs []string
				found := false
				for _, is := range issues {
					if is.Severity != validators.Error {
						continue
					}
					if len(is.Message) > 1000 {
						t.Errorf("%s: a message of %d bytes", side.name, len(is.Message))
					}
					msgs = append(msgs, is.Message)
					found = found || side.want != "" && strings.Contains(is.Message, side.want)
				}
				switch {
				case side.want == "" && len(msgs) > 0:
					t.Errorf("%s: errors %q, want none", side.name, msgs)
				case side.want != "" && !found:
					t.Errorf("%s: errors %q, want one saying %q", side.name, msgs, side.want)
				case len(msgs) > 3:
					t.Errorf("%s: %d errors for one problem: %q", side.name, len(msgs), msgs[:3])
				}
			}
		})
	}
}

// allocated runs fn and returns the bytes it allocated (an upper bound on
// what it added to the heap at any moment) and fn's result.
func allocated(fn func() []validators.Issue) (uint64, []validators.Issue) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out := fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, out
}
