package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeaturesUseTheirHandle: a feature logs through the logger its
// mod.Handle gives it (every line says which module spoke), never through
// slog.Default.
func TestFeaturesUseTheirHandle(t *testing.T) {
	files, err := filepath.Glob("../../mod/*/*.go")
	if err != nil || len(files) < 10 {
		t.Fatalf("feature sources: %v (%d files)", err, len(files))
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "slog" && sel.Sel.Name == "Default" {
				t.Errorf("%s: slog.Default in a feature: use the logger of its mod.Handle", fset.Position(sel.Pos()))
			}
			return true
		})
	}
}
