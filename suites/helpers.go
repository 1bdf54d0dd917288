package suites

import (
	"encoding/json"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// params are the edition's required parameters for a mode plus extras.
func params(e *framework.Env, mode string, extra ...[]bulk.Param) []bulk.Param {
	ps := e.DefaultParams(mode)
	for _, x := range extra {
		ps = append(ps, x...)
	}
	return ps
}

// param is one parameter.
func param(name, typ, value string) []bulk.Param {
	return []bulk.Param{{Name: name, Type: typ, Value: value}}
}
