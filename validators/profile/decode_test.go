package profile

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{"a": "plain", "b": "caf\u00e9 \"quoted\" \\ back\/slash \n\t", "c": [1, -2.5, 3e10, 0, true, false, null], "d": {}}`,
		`{"emoji": "\ud83d\ude00", "lone": "\ud83d x", "utf8": "naïve ✓", "nested": {"x": [{"y": [[]]}]}}`,
		"{\"bad\": \"a\xffb\", \"bad2\": \"\\n\xfe\"}",
		`[]`, `"s"`, `12.50`,
	}
	for _, doc := range docs {
		got, _, err := decodeJSON([]byte(doc))
		if err != nil {
			t.Errorf("decodeJSON(%s): %v", doc, err)
			continue
		}
		d := json.NewDecoder(bytes.NewReader([]byte(doc)))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeJSON(%q) =\n %#v\nwant\n %#v", doc, got, want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`,
		"{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":"unterminated}`, `{} {}`, `{"a":"\u12"}`,
	} {
		if _, _, err := decodeJSON([]byte(doc)); err == nil {
			t.Errorf("decodeJSON(%q) succeeded", doc)
		}
	}
	_, dups, err := decodeJSON([]byte(`{"a":1,"b":{"c":1,"c":2},"a":3}`))
	if err != nil || len(dups) != 2 {
		t.Errorf("duplicates: %v %v", dups, err)
	}
}
