package packages

import (
	"bytes"
	"encoding/json"
	"errors"
)

// header holds the top-level fields of a resource that the index needs. They
// are read by scanning the JSON text rather than decoding it: the R4 package
// alone is 190 MB of JSON, and decoding all of it to find a few hundred
// conformance resources would dominate start-up.
type header struct {
	ResourceType string
	ID           string
	URL          string
	Version      string
	Name         string
	Kind         string
	Type         string
}

var errNotObject = errors.New("not a JSON object")

// scanHeader reads the top-level string fields resourceType, id, url,
// version, name, kind and type of a JSON object without decoding the rest.
// It stops early once resourceType shows a resource the index does not
// hold (examples), since only that field is needed for them.
func scanHeader(data []byte) (header, error) {
	var h header
	data = trimBOM(data)
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return h, errNotObject
	}
	i++
	for {
		i = skipWS(data, i)
		if i >= len(data) {
			return h, errors.New("unexpected end of JSON")
		}
		if data[i] == '}' {
			return h, nil
		}
		if data[i] == ',' {
			i++
			continue
		}
		if data[i] != '"' {
			return h, errors.New("malformed JSON object key")
		}
		ks, ke, err := stringSpan(data, i)
		if err != nil {
			return h, err
		}
		key := data[ks+1 : ke-1]
		i = skipWS(data, ke)
		if i >= len(data) || data[i] != ':' {
			return h, errors.New("malformed JSON: missing colon")
		}
		i = skipWS(data, i+1)
		if i >= len(data) {
			return h, errors.New("unexpected end of JSON")
		}
		var dst *string
		switch string(key) {
		case "resourceType":
			dst = &h.ResourceType
		case "id":
			dst = &h.ID
		case "url":
			dst = &h.URL
		case "version":
			dst = &h.Version
		case "name":
			dst = &h.Name
		case "kind":
			dst = &h.Kind
		case "type":
			dst = &h.Type
		}
		if dst != nil && data[i] == '"' {
			vs, ve, err := stringSpan(data, i)
			if err != nil {
				return h, err
			}
			raw := data[vs:ve]
			if bytes.IndexByte(raw, '\\') < 0 {
				*dst = string(raw[1 : len(raw)-1])
			} else if err := json.Unmarshal(raw, dst); err != nil {
				return h, err
			}
			i = ve
			if dst == &h.ResourceType && !indexedType(h.ResourceType) {
				return h, nil
			}
			continue
		}
		i, err = skipValue(data, i)
		if err != nil {
			return h, err
		}
	}
}

func trimBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringSpan returns the bounds of the JSON string starting at b[i] == '"',
// quotes included.
func stringSpan(b []byte, i int) (int, int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return i, j + 1, nil
		}
	}
	return 0, 0, errors.New("unterminated JSON string")
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	switch b[i] {
	case '"':
		_, e, err := stringSpan(b, i)
		return e, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, e, err := stringSpan(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated JSON value")
	default:
		for j := i; j < len(b); j++ {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, nil
			}
		}
		return len(b), nil
	}
}
