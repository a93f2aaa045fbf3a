package importrules

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sluice-cd/sluice/"

// A rule forbids the packages matching From (all when empty) to import the
// packages matching Imports, except the packages in Only. Patterns are
// paths relative to the module, or import paths of other modules; a
// trailing "/..." matches a package and everything below it.
type rule struct {
	Why     string
	From    []string
	Imports []string
	Only    []string
}

var rules = []rule{
	{Why: "the status vocabulary is a leaf that every layer shares",
		From:    []string{"internal/status"},
		Imports: []string{"internal/...", "cmd/..."}},
	// bench.BareRiver, the engine's yardstick, is bare River: it drives
	// River's own driver, as a program without Sluice would (issue 15).
	{Why: "the job queue owns River's drivers and migrations (and the bare-River yardstick uses them)",
		Imports: []string{"github.com/riverqueue/river/riverdriver/...", "github.com/riverqueue/river/rivermigrate"},
		Only:    []string{"internal/jobqueue", "internal/bench"}},
	{Why: "Postgres is reached through the store and the job queue",
		Imports: []string{"github.com/jackc/pgx/..."},
		Only:    []string{"internal/store/postgres", "internal/jobqueue"}},
	// The local Lambda keeps its model, queues and topics in SQLite files
	// of its own in its data directory (control.db, sqs.db, sns.db): an
	// AWS peer's state, which Sluice's store does not hold (issues 14, 15).
	{Why: "SQL is reached through the store and the job queue (and the local Lambda's own databases)",
		Imports: []string{"database/sql", "modernc.org/sqlite/..."},
		Only:    []string{"internal/store/sqlite", "internal/jobqueue", "internal/locallambda/control", "internal/locallambda/sqs", "internal/locallambda/sns"}},
	{Why: "the API is assembled by the composition root alone",
		Imports: []string{"internal/httpapi"}, Only: []string{"internal/node"}},
	{Why: "the composition root is started by the command line",
		Imports: []string{"internal/node"}, Only: []string{"internal/cli"}},
	{Why: "main only runs the command line",
		Imports: []string{"internal/cli"}, Only: []string{"cmd/sluice"}},
	{Why: "test fixtures stay in tests",
		Imports: []string{"internal/sluicetest", "internal/auth/oidc/oidctest", "github.com/oauth2-proxy/mockoidc"},
		Only:    []string{"internal/auth/oidc/oidctest"}},
	{Why: "the console reaches data only through the public API (apiclient)",
		From:    []string{"internal/web/..."},
		Imports: []string{"internal/store/...", "internal/engine", "internal/jobqueue", "internal/httpapi", "internal/locallambda/...", "internal/awsclient"}},
	{Why: "the Go client speaks only the wire types",
		From:    []string{"internal/apiclient"},
		Imports: []string{"internal/store/...", "internal/engine", "internal/httpapi", "internal/pipeline"}},
	{Why: "the store persists what it is handed and knows no semantics",
		From:    []string{"internal/store/..."},
		Imports: []string{"internal/engine", "internal/stage/...", "internal/httpapi", "internal/jobqueue", "internal/node", "internal/pipeline", "internal/expr"}},
	{Why: "stage types see their task, not the engine or the store",
		From:    []string{"internal/stage/..."},
		Imports: []string{"internal/engine", "internal/store/...", "internal/httpapi", "internal/jobqueue", "internal/node"}},
	{Why: "the engine speaks to the job queue, not to River's drivers or the outside",
		From:    []string{"internal/engine"},
		Imports: []string{"internal/httpapi", "internal/node", "internal/web", "internal/cli", "internal/locallambda/...", "internal/awsclient"}},
	{Why: "the local Lambda is an AWS peer that knows nothing of Sluice's pipelines",
		From:    []string{"internal/locallambda/..."},
		Imports: []string{"internal/engine", "internal/store/...", "internal/stage/...", "internal/httpapi", "internal/node", "internal/pipeline", "internal/expr", "internal/jobqueue"}},
	{Why: "auth decides who and what; it serves no routes and runs nothing",
		From:    []string{"internal/auth/..."},
		Imports: []string{"internal/engine", "internal/stage/...", "internal/httpapi", "internal/web", "internal/jobqueue", "internal/node", "internal/cli", "internal/locallambda/..."}},
	{Why: "the console acts for the viewer through the API, which alone decides what they may do",
		From:    []string{"internal/web/..."},
		Imports: []string{"internal/auth/..."}},
	{Why: "notifications are delivered, not decided: the engine decides when and retries",
		From:    []string{"internal/notify", "internal/egress"},
		Imports: []string{"internal/store/...", "internal/engine", "internal/jobqueue", "internal/httpapi", "internal/node", "internal/stage/..."}},
	{Why: "the document and its expressions are pure: no I/O, no engine",
		From:    []string{"internal/pipeline", "internal/expr"},
		Imports: []string{"internal/store/...", "internal/engine", "internal/stage/...", "internal/httpapi", "internal/jobqueue", "internal/awsclient", "internal/locallambda/..."}},
}

// TestImportRules lists every package of the module with `go list` and
// checks its imports (not its tests') against the rules.
func TestImportRules(t *testing.T) {
	imports := listImports(t)
	if len(imports) < 20 {
		t.Fatalf("go list found %d packages; is the test running inside the module?", len(imports))
	}
	for pkg, deps := range imports {
		for _, r := range rules {
			if len(r.From) > 0 && !matchAny(r.From, pkg) || slices.Contains(r.Only, pkg) {
				continue
			}
			for _, dep := range deps {
				if matchAny(r.Imports, dep) {
					t.Errorf("%s imports %s: %s", pkg, dep, r.Why)
				}
			}
		}
	}
}

// TestRulesMatchPackages keeps the rules from going stale: every internal
// pattern they name matches a package that exists.
func TestRulesMatchPackages(t *testing.T) {
	imports := listImports(t)
	for _, r := range rules {
		for _, p := range slices.Concat(r.From, r.Imports, r.Only) {
			if !strings.HasPrefix(p, "internal/") && !strings.HasPrefix(p, "cmd/") {
				continue
			}
			found := false
			for pkg := range imports {
				found = found || match(p, pkg)
			}
			if !found {
				t.Errorf("rule %q names %s, which matches no package", r.Why, p)
			}
		}
	}
}

// listImports returns each package of the module (relative to it) with
// its imports (relative to the module where they are in it).
func listImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		deps := make([]string, len(p.Imports))
		for i, d := range p.Imports {
			deps[i] = strings.TrimPrefix(d, module)
		}
		imports[strings.TrimPrefix(p.ImportPath, module)] = deps
	}
	return imports
}

func matchAny(patterns []string, pkg string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, pkg) })
}

func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pattern == pkg || path.Clean(pattern) == pkg
}
