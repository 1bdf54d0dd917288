package jsonscan

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	small := Limits{Depth: 3, Values: 10, Objects: 2}
	tests := []struct {
		name   string
		data   string
		offset int    // -1: no error
		what   string // in the error
	}{
		{"flat object", `{"a":1,"b":"x","c":true,"d":null}`, -1, ""},
		{"nesting at the limit", `{"a":[{"b":1}]}`, -1, ""},
		{"nesting past the limit", `{"a":[[{"b":1}]]}`, 7, "nested more than 3"},
		{"brackets in strings do not nest", `{"a":"[[[[{{{{"}`, -1, ""},
		{"escaped quotes stay in the string", `{"a":"\"[[[[\"","b":1}`, -1, ""},
		{"values at the limit", `[1,2,3,4,5,6,7,8,9]`, -1, ""},
		{"values past the limit", `[1,2,3,4,5,6,7,8,9,10]`, 19, "more than 10 values"},
		{"numbers and literals count once", `[-1.5e10,true,false,null]`, -1, ""},
		{"objects past the limit", `[{},{},{}]`, 7, "more than 2 objects"},
		{"valid UTF-8", `{"a":"é€😀"}`, -1, ""},
		{"invalid UTF-8 at its offset", "{\"a\":\"ab\xffcd\"}", 8, "not valid UTF-8"},
		{"a truncated sequence", "{\"a\":\"\xe2\x82\"}", 6, "not valid UTF-8"},
		{"U+FFFD itself is valid", "{\"a\":\"\xef\xbf\xbd\"}", -1, ""},
		{"unterminated string", `{"a":"abc`, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := small.Check([]byte(tt.data))
			if tt.offset < 0 {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if e.Offset != tt.offset || !strings.Contains(e.What, tt.what) {
				t.Errorf("error at %d %q, want at %d containing %q", e.Offset, e.What, tt.offset, tt.what)
			}
		})
	}
}

func TestDefaultRefusesHostileShapes(t *testing.T) {
	tests := map[string]string{
		"100,000 levels":        strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000),
		"a million-item array":  "[" + strings.Repeat("0,", 1_000_000) + "0]",
		"300,000 empty objects": "[" + strings.Repeat("{},", 300_000) + "{}]",
	}
	for name, data := range tests {
		if err := Default.Check([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
