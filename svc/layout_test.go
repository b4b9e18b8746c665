// The layout is the architecture: these rules keep the bounded contexts
// apart from each other and from the wiring, the platform beneath them, and
// infra/ on the far side of svc/contract. A new import that breaks one
// fails here.
package svc_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/carrental/carrental/"

// contexts are the six services' own packages (and their subpackages).
var contexts = []string{"svc/gateway", "svc/management", "svc/payment", "svc/rental", "svc/reservation", "svc/view"}

func TestImportsFollowTheLayout(t *testing.T) {
	imports := importsByPackage(t, "..")
	if len(imports) < 20 {
		t.Fatalf("read only %d packages: is the test running from svc/?", len(imports))
	}
	for pkg, deps := range imports {
		for _, dep := range deps {
			if reason := forbidden(pkg, dep); reason != "" {
				t.Errorf("%s imports %s: %s", pkg, dep, reason)
			}
		}
	}
}

func TestTheRulesCatchWhatTheyForbid(t *testing.T) {
	cases := []struct{ from, to string }{
		{"svc/reservation", "svc/payment"},
		{"svc/view/sqlstore", "svc/management"},
		{"svc/management", "svc/wiring"},
		{"svc/rental", "svc/platform/host"},
		{"svc/platform/sqldb", "svc/view/sqlstore"},
		{"svc/platform/outbox", "svc/wiring/local"},
		{"infra/workloads", "svc/platform/value"},
		{"svc/contract", "svc/platform/errs"},
	}
	for _, c := range cases {
		if forbidden(c.from, c.to) == "" {
			t.Errorf("%s -> %s is allowed, want it forbidden", c.from, c.to)
		}
	}
	for _, ok := range [][2]string{{"svc/reservation", "svc/platform/value"}, {"svc/view/sqlstore", "svc/view"}, {"svc/wiring", "svc/view/sqlstore"}, {"infra/workloads", "svc/contract"}} {
		if reason := forbidden(ok[0], ok[1]); reason != "" {
			t.Errorf("%s -> %s is forbidden (%s), want it allowed", ok[0], ok[1], reason)
		}
	}
}

// forbidden says why pkg may not import dep, or "" when it may. Both are
// paths relative to the module root.
func forbidden(pkg, dep string) string {
	ctx, depCtx := contextOf(pkg), contextOf(dep)
	switch {
	case pkg == "svc/contract" && strings.HasPrefix(dep, "svc/"):
		return "the contract shared with infra/ depends on nothing"
	case strings.HasPrefix(pkg, "infra/") && strings.HasPrefix(dep, "svc/") && dep != "svc/contract":
		return "infra/ meets svc/ only in svc/contract"
	case ctx != "" && depCtx != "" && ctx != depCtx:
		return "a context never depends on another context; share the word through svc/platform (value, event) or svc/contract"
	case ctx != "" && (under(dep, "svc/wiring") || under(dep, "svc/cmd") || under(dep, "svc/tools") || under(dep, "svc/platform/host")):
		return "a context is wired by svc/wiring, it does not reach up to the runtime"
	case under(pkg, "svc/platform") && (depCtx != "" || under(dep, "svc/wiring") || under(dep, "svc/cmd") || under(dep, "svc/tools")):
		return "the platform sits below the contexts and the wiring"
	}
	return ""
}

func contextOf(pkg string) string {
	for _, c := range contexts {
		if under(pkg, c) {
			return c
		}
	}
	return ""
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// importsByPackage reads the module-internal imports of every package
// (test files included) under svc/ and infra/ of the module at root.
func importsByPackage(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, top := range []string{"svc", "infra"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			pkg := filepath.ToSlash(rel)
			for _, imp := range f.Imports {
				p, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					return err
				}
				if dep, ok := strings.CutPrefix(p, module); ok && dep != pkg {
					out[pkg] = append(out[pkg], dep)
				}
			}
			if _, seen := out[pkg]; !seen {
				out[pkg] = nil
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
