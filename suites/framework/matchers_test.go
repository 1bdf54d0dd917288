package framework

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// setMatchers pair every element of one collection with every element of
// another: quadratic or worse in the data. Outside the spec bodies (which
// compare with Compare and the export's index) none may remain.
var setMatchers = map[string]bool{"ContainElements": true, "ContainElement": true, "ConsistOf": true, "HaveExactElements": true}

// TestNoSetMatchersOutsideSpecs scans the framework, the suites' shared
// helpers and the runner.
func TestNoSetMatchersOutsideSpecs(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.go", "../helpers.go", "../../runner/*.go"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	scanned := 0
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			if setMatchers[name] {
				t.Errorf("%s: %s: a set matcher over a collection; index with maps (Compare)", fset.Position(call.Pos()), name)
			}
			return true
		})
	}
	if scanned < 10 {
		t.Fatalf("scanned %d files: the paths are wrong", scanned)
	}
}
