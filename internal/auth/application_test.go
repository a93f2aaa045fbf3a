package auth_test

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/auth"
)

// TestCheckApplication: an application's pipelines may start another's
// only with an "application:NAME" grant of execute (or write) on it, or on
// "*"; the grant never passes for a person or a token with a role of that
// name.
func TestCheckApplication(t *testing.T) {
	t.Parallel()
	pol := mustPolicy(t, `
auth:
  applications:
    payments:
      execute: ["application:shop"]
    ledger:
      read: ["application:shop"]
    "*":
      write: ["application:ops"]
`)
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"shop", "shop", true},
		{"shop", "payments", true},
		{"payments", "shop", false},
		{"shop", "ledger", false}, // read does not start executions
		{"ops", "anything", true},
		{"web", "payments", false},
	} {
		err := pol.CheckApplication(c.from, c.to)
		if (err == nil) != c.ok {
			t.Errorf("CheckApplication(%s, %s) = %v, want allowed %v", c.from, c.to, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "application "+c.from) || !strings.Contains(err.Error(), "application "+c.to) ||
			!strings.Contains(err.Error(), `"application:`+c.from+`" under auth.applications.`+c.to+`.execute`)) {
			t.Errorf("CheckApplication(%s, %s) error %q does not name both and the grant", c.from, c.to, err)
		}
	}
	p := &auth.Principal{Name: "mallory", Roles: []string{"application:shop"}}
	if pol.Allows(p, "payments", auth.Execute) {
		t.Errorf("a principal with the role application:shop may execute payments; an application grant must never match a person")
	}
}
