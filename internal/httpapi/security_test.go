package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/store"
)

// The security suite plays the attacks of issue 10 against every operation
// of openapi.json: the operations, their access (x-sluice-access) and
// their security come from the document, and TestOpenAPIDescribesAccess
// holds the document to the route table, so a new route is attacked as
// soon as it exists. Each attack is paired with the legitimate request of
// the same shape, which must get through, so that the suite cannot pass
// by refusing everything.

// secPolicy grants the roles of the suite's principals on the application
// demo.
const secPolicy = `
auth:
  applications:
    demo:
      read: [readers]
      execute: [operators]
      write: [writers]
`

// secPipeline is the saved pipeline whose executions fill the path
// parameters: two judgments that name the roles who may judge them, one
// anyone who may execute may judge, a long wait to skip, a short one to
// restart and a stage that takes commands. All start at once; only the
// short wait finishes by itself.
const secPipeline = `{
  "application": "demo", "name": "release", "limitConcurrent": false,
  "triggers": [
    {"type": "webhook", "id": "ci", "enabled": true, "source": "ci"},
    {"type": "git", "id": "gh", "enabled": true, "source": "github", "project": "acme", "slug": "release"}],
  "stages": [
    {"refId": "1", "type": "manualJudgment", "name": "Approve", "selectedStageRoles": ["release-managers"],
     "judgmentInputs": [{"value": "ship"}]},
    {"refId": "2", "type": "manualJudgment", "name": "Gate", "requiredJudgmentRoles": ["gatekeepers"],
     "selectedStageRoles": ["release-managers"]},
    {"refId": "3", "type": "wait", "name": "Soak", "waitTime": 3600},
    {"refId": "4", "type": "manualJudgment", "name": "Sign off"},
    {"refId": "5", "type": "wait", "name": "Warm up", "waitTime": 0},
    {"refId": "6", "type": "steered", "name": "Shift"}
  ]
}`

// secCanaryConfig is the saved canary config that fills {name} on the
// canary-config routes; it names the application demo, whose rights
// decide who may read and change it.
const secCanaryConfig = `{
  "name": "demo-canary", "applications": ["demo"],
  "metrics": [{"name": "errors", "query": {"type": "sluice-local", "metric": "error_rate"}, "groups": ["errors"],
    "analysisConfigurations": {"canary": {"direction": "increase"}}}],
  "classifier": {"groupWeights": {"errors": 100}}
}`

// principals of the suite: name → roles. The admin is setup's testUser.
var secPrincipals = map[string][]string{
	"nobody":     nil,
	"reader":     {"readers"},
	"operator":   {"operators"},
	"writer":     {"writers"},
	"manager":    {"operators", "release-managers"},
	"gatekeeper": {"operators", "gatekeepers", "release-managers"},
	"onlyrole":   {"release-managers"},
}

// secFixture is a server with the engine, the policy, a console, the
// principals' tokens and real objects for every path parameter.
type secFixture struct {
	t      *testing.T
	c      *apiclient.Client
	b      *testBundle
	tokens map[string]string // principal → secret
	execID string
	// finishedID is a cancelled execution, made when first needed.
	finishedID string
	// victimTokenID is a token the attacks try to revoke.
	victimTokenID string
	seq           atomic.Int64
}

func setupSecurity(t *testing.T) *secFixture {
	t.Helper()
	cfg, err := auth.ParseConfig([]byte(secPolicy))
	if err != nil {
		t.Fatal(err)
	}
	c, b := setupEngine(t, func(c *httpapi.Config) {
		c.Policy = auth.NewPolicy(cfg)
		c.Functions = fixedFunctions{
			accounts:  []apitype.Account{{Name: "local", Region: "us-east-1"}},
			functions: map[string][]apitype.Function{"local": {}},
		}
		c.Console = func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "console")
			})
		}
	})
	f := &secFixture{t: t, c: c, b: b, tokens: map[string]string{}}
	for name, roles := range secPrincipals {
		secret, _, err := b.auth.CreateToken(t.Context(), auth.TokenParams{Name: name, Roles: roles, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = secret
	}
	f.tokens["admin"] = b.token
	_, victim, err := b.auth.CreateToken(t.Context(), auth.TokenParams{Name: "victim", CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	f.victimTokenID = victim.ID
	apply(t, c, "demo", "release", secPipeline)
	f.applyCanaryConfig()
	f.execID = f.newExecution()
	return f
}

// applyCanaryConfig saves secCanaryConfig as the admin.
func (f *secFixture) applyCanaryConfig() {
	f.t.Helper()
	if _, err := f.c.PutCanaryConfig(f.t.Context(), "demo-canary", []byte(secCanaryConfig)); err != nil {
		f.t.Fatalf("put canary config demo-canary: %v", err)
	}
}

// newExecution runs demo/release and waits until its stages wait: the
// judgments and the long wait RUNNING, the short wait SUCCEEDED.
func (f *secFixture) newExecution() string {
	f.t.Helper()
	exec, err := f.c.Trigger(f.t.Context(), "demo", "release", apitype.TriggerRequest{})
	if err != nil {
		f.t.Fatal(err)
	}
	waitFor(f.t, f.c, exec.ID, "its stages to wait", func(e *apitype.Execution) bool {
		for _, s := range e.Stages {
			if want := map[bool]string{true: "SUCCEEDED", false: "RUNNING"}[s.RefID == "5"]; string(s.Status) != want {
				return false
			}
		}
		return true
	})
	return exec.ID
}

// executionFor returns an execution in which op, a legitimate request,
// succeeds: a fresh one for an operation that changes it (paused for
// resume), the fixture's otherwise.
func (f *secFixture) executionFor(op operation) string {
	f.t.Helper()
	switch op.id {
	case "evaluateExpression":
		return f.execID
	case "rollbackExecution":
		// A finished execution, which leaves the rollback nothing to undo
		// (legitFailures) and stays as it is.
		if f.finishedID == "" {
			f.finishedID = f.newExecution()
			if _, err := f.c.Cancel(f.t.Context(), f.finishedID, "to roll back"); err != nil {
				f.t.Fatal(err)
			}
			waitFor(f.t, f.c, f.finishedID, "CANCELED", execStatus("CANCELED"))
		}
		return f.finishedID
	}
	if !op.unsafe() {
		return f.execID
	}
	id := f.newExecution()
	if op.id == "resumeExecution" {
		if _, err := f.c.Pause(f.t.Context(), id); err != nil {
			f.t.Fatal(err)
		}
		waitFor(f.t, f.c, id, "PAUSED", execStatus("PAUSED"))
	}
	return id
}

// operation is one operation of openapi.json.
type operation struct {
	method, path, id string
	// access is x-sluice-access: public, authenticated, admin, read,
	// execute or write.
	access string
}

func (op operation) String() string { return op.method + " " + op.path }

func (op operation) unsafe() bool { return op.method != http.MethodGet && op.method != http.MethodHead }

// operations lists every operation of openapi.json, in a stable order.
func operations(t *testing.T) []operation {
	t.Helper()
	api, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range api.doc.Paths.Map() {
		for method, o := range item.Operations() {
			access, _ := o.Extensions["x-sluice-access"].(string)
			if access == "" {
				t.Fatalf("%s %s has no x-sluice-access", method, path)
			}
			public := o.Security != nil && len(*o.Security) == 0
			if public != (access == "public") {
				t.Fatalf("%s %s: x-sluice-access %s, yet security %v", method, path, access, o.Security)
			}
			ops = append(ops, operation{method: method, path: path, id: o.OperationID, access: access})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	if len(ops) < 30 {
		t.Fatalf("openapi.json has %d operations; the suite expects the whole API", len(ops))
	}
	return ops
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// target fills op's path parameters with real objects: the saved pipeline,
// its execution, the stage the operation works on, and a token. With
// fresh, for a legitimate request, the execution and the token are new
// ones where the request uses them up (a cancel, a revocation).
func (f *secFixture) target(op operation, fresh bool) string {
	f.t.Helper()
	return pathParam.ReplaceAllStringFunc(op.path, func(m string) string {
		switch name := m[1 : len(m)-1]; {
		case name == "app":
			return "demo"
		case name == "name" && strings.HasPrefix(op.path, "/api/v1/canary-configs/"):
			return "demo-canary"
		case name == "name":
			return "release"
		case name == "rev":
			return "1"
		case name == "stage":
			switch op.id {
			case "judgeStage":
				return "4" // a judgment no role restricts
			case "restartStage":
				return "5" // a finished stage
			case "commandStage":
				return "6" // a stage that takes commands
			}
			return "3" // the long wait
		case name == "account":
			return "local"
		case name == "key":
			return "ci"
		case name == "source" && strings.HasPrefix(op.path, "/webhooks/git/"):
			return "github"
		case name == "source":
			return "ci"
		case name == "id" && strings.HasPrefix(op.path, "/api/v1/tokens/"):
			if !fresh {
				return f.victimTokenID
			}
			_, tok, err := f.b.auth.CreateToken(f.t.Context(), auth.TokenParams{Name: f.unique("doomed"), CreatedBy: "test"})
			if err != nil {
				f.t.Fatal(err)
			}
			return tok.ID
		case name == "id" && strings.HasPrefix(op.path, "/api/v1/executions/"):
			if fresh {
				return f.executionFor(op)
			}
			return f.execID
		default:
			f.t.Fatalf("%s: the security suite has no object for the path parameter {%s}; add one to target", op, name)
			return ""
		}
	})
}

func (f *secFixture) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.seq.Add(1))
}

// body is a legitimate body for op.
func (f *secFixture) body(op operation) string {
	switch op.id {
	case "putPipeline", "validatePipeline", "importPipelines":
		return secPipeline
	case "patchTrigger":
		return `{"enabled": true}`
	case "deliverWebhook":
		return `{"branch": "main"}`
	case "deliverGit":
		return `{"ref": "refs/heads/main", "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "repository": {"name": "release", "owner": {"name": "acme"}}}`
	case "putCanaryConfig", "validateCanaryConfig":
		return secCanaryConfig
	case "openSession":
		return `{"token":"` + f.tokens["admin"] + `"}`
	case "createToken":
		return `{"name":"` + f.unique("made") + `"}`
	case "cancelExecution":
		return `{"reason":"security suite"}`
	case "evaluateExpression":
		return `{"expression":"${execution.id}"}`
	case "judgeStage":
		return `{"status":"continue"}`
	case "commandStage":
		return `{"command":"pause"}`
	}
	if op.unsafe() {
		return `{}`
	}
	return ""
}

// request is the legitimate request of op as the principal (its token),
// JSON for a state-changing one; edit turns it into an attack.
func (f *secFixture) request(op operation, principal string, fresh bool, edit func(*http.Request)) *http.Request {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), op.method, f.b.server.URL+f.target(op, fresh), strings.NewReader(f.body(op)))
	if err != nil {
		f.t.Fatal(err)
	}
	if op.unsafe() {
		req.Header.Set("Content-Type", "application/json")
	}
	if principal != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[principal])
	}
	if edit != nil {
		edit(req)
	}
	return req
}

// send sends req and returns the status and the error body's code. An
// event stream is closed once its status is known.
func (f *secFixture) send(req *http.Request) (int, string) {
	f.t.Helper()
	status, code, _ := f.sendFull(req)
	return status, code
}

// sendFull is send, with the error's message.
func (f *secFixture) sendFull(req *http.Request) (int, string, string) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 {
		return resp.StatusCode, "", ""
	}
	body := readErrorBody(f.t, resp)
	return resp.StatusCode, body.Error.Code, body.Error.Message
}

// legitFailure is the answer to a legitimate request that is not a
// success, and says why: what the operation does cannot be done to the
// fixture's objects, which only the handler, past every check, knows.
type legitFailure struct {
	status  int
	message string
}

// legitFailures are the operations whose legitimate request in the suite
// does not succeed, by operation and credential ("token" or "session").
var legitFailures = map[[2]string]legitFailure{
	// Only Route stages record how to undo them; demo/release has none.
	{"rollbackExecution", "token"}:   {409, "has no stage that recorded how to undo it"},
	{"rollbackExecution", "session"}: {409, "has no stage that recorded how to undo it"},
	// A token has no session to close.
	{"closeSession", "token"}: {400, "authenticated with an API token"},
}

// legit sends op's legitimate request as principal (edited by edit: a
// session, a Host, an Origin) and fails the test unless it succeeds, or
// fails as legitFailures says. It then restores what the request used up.
func (f *secFixture) legit(what string, op operation, principal string, edit func(*http.Request)) {
	f.t.Helper()
	req := f.request(op, principal, true, edit)
	via := "token"
	if req.Header.Get("Authorization") == "" {
		via = "session"
	}
	status, code, msg := f.sendFull(req)
	want, known := legitFailures[[2]string{op.id, via}]
	switch {
	case known && (status != want.status || !strings.Contains(msg, want.message)):
		f.t.Errorf("%s: legitimate %s = %d %s %q, want %d saying %q", what, op, status, code, msg, want.status, want.message)
	case !known && status/100 != 2:
		f.t.Errorf("%s: legitimate %s = %d %s %q, want success", what, op, status, code, msg)
	}
	if op.id == "deletePipeline" && status/100 == 2 {
		apply(f.t, f.c, "demo", "release", secPipeline)
	}
	if op.id == "deleteCanaryConfig" && status/100 == 2 {
		f.applyCanaryConfig()
	}
}

// refused fails the test unless the attack got wantStatus and wantCode.
func (f *secFixture) refused(what string, op operation, status int, code string, wantStatus int, wantCode string) {
	f.t.Helper()
	if status != wantStatus || code != wantCode {
		f.t.Errorf("%s: %s = %d %s, want %d %s", what, op, status, code, wantStatus, wantCode)
	}
}

// snapshot is what an attack must not change: the audit log, the
// pipelines' and canary configs' revisions, the executions' statuses and the credentials in
// force.
func (f *secFixture) snapshot() string {
	f.t.Helper()
	ctx, st := f.t.Context(), f.b.store
	var sb strings.Builder
	audit, err := st.AuditList(ctx, &store.AuditListParams{Limit: 10000})
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(&sb, "audit entries: %d\n", len(audit))
	ps, err := st.PipelineList(ctx, &store.PipelineListParams{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range ps {
		fmt.Fprintf(&sb, "pipeline %s/%s revision %d\n", p.Application, p.Name, p.Revision)
	}
	cs, err := st.CanaryConfigList(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range cs {
		fmt.Fprintf(&sb, "canary config %s revision %d\n", c.Name, c.Revision)
	}
	page, err := st.ExecutionList(ctx, &store.ExecutionListParams{Limit: 500})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range page.Executions {
		fmt.Fprintf(&sb, "execution %s %s\n", e.ID, e.Status)
		for _, s := range e.Stages {
			fmt.Fprintf(&sb, "  stage %s %s\n", s.RefID, s.Status)
		}
	}
	for _, kind := range []store.CredentialKind{store.CredentialToken, store.CredentialSession, store.CredentialLoginLink} {
		cs, err := st.CredentialList(ctx, kind, time.Now())
		if err != nil {
			f.t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s credentials: %d\n", kind, len(cs))
	}
	return sb.String()
}

// expiredToken returns a token that expired an hour ago.
func (f *secFixture) expiredToken() string {
	f.t.Helper()
	then := time.Now().Add(-2 * time.Hour)
	past, err := auth.NewAuthenticator(f.b.store, auth.Config{}, func() time.Time { return then })
	if err != nil {
		f.t.Fatal(err)
	}
	expires := then.Add(time.Hour)
	secret, _, err := past.CreateToken(f.t.Context(), auth.TokenParams{Name: "expired", Roles: []string{auth.RoleAdmin}, ExpiresAt: &expires, CreatedBy: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// revokedToken returns an admin token that was revoked.
func (f *secFixture) revokedToken() string {
	f.t.Helper()
	secret, tok, err := f.b.auth.CreateToken(f.t.Context(), auth.TokenParams{Name: "revoked", Roles: []string{auth.RoleAdmin}, CreatedBy: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.b.auth.RevokeToken(f.t.Context(), tok.ID); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// adminSession opens a console session as the admin.
func (f *secFixture) adminSession() *auth.Session {
	f.t.Helper()
	s, err := f.b.auth.OpenSession(f.t.Context(), testUser, []string{auth.RoleAdmin}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func withCookie(secret string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		r.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: secret})
	}
}

func chain(edits ...func(*http.Request)) func(*http.Request) {
	return func(r *http.Request) {
		for _, e := range edits {
			e(r)
		}
	}
}

// TestSecurityAttacksFail plays, for every operation of openapi.json, the
// requests a web page, a stolen or stale credential, or a rebinding DNS
// name would send, and checks that each is refused and changes nothing;
// then that the legitimate request of the same shape gets through.
func TestSecurityAttacksFail(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ops := operations(t)
	session, otherSession := f.adminSession(), f.adminSession()
	revoked, expired := f.revokedToken(), f.expiredToken()
	badCredentials := map[string]func(*http.Request){
		"unknown token": func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+auth.TokenPrefix+strings.Repeat("x", 43))
		},
		"revoked token":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+revoked) },
		"expired token":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+expired) },
		"not a bearer":    func(r *http.Request) { r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=") },
		"unknown session": withCookie("not-a-session"),
		"spoofed user only": func(r *http.Request) {
			r.Header.Del("Authorization")
			r.Header.Set("X-Sluice-User", "admin@example.com")
		},
	}
	names := slices.Sorted(maps.Keys(badCredentials))
	evilHost := func(r *http.Request) { r.Host = "evil.example" }

	before := f.snapshot()
	for _, op := range ops {
		if op.access != "public" {
			status, code := f.send(f.request(op, "", false, nil))
			f.refused("no credential", op, status, code, 401, apitype.CodeUnauthenticated)
			for _, name := range names {
				status, code := f.send(f.request(op, "admin", false, badCredentials[name]))
				f.refused(name, op, status, code, 401, apitype.CodeUnauthenticated)
			}
		}
		if op.unsafe() && op.access != "public" {
			status, code := f.send(f.request(op, "admin", false, withCookie(session.Secret)))
			f.refused("session without "+httpapi.CSRFHeader, op, status, code, 403, apitype.CodeForbidden)
			status, code = f.send(f.request(op, "admin", false, chain(withCookie(session.Secret),
				func(r *http.Request) { r.Header.Set(httpapi.CSRFHeader, otherSession.Principal.CSRFToken) })))
			f.refused("session with another session's CSRF token", op, status, code, 403, apitype.CodeForbidden)
		}
		if op.unsafe() {
			for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
				status, code := f.send(f.request(op, "admin", false, func(r *http.Request) {
					r.Header.Del("Content-Type")
					if ct != "" {
						r.Header.Set("Content-Type", ct)
					}
				}))
				f.refused("Content-Type "+cmpOr(ct, "none"), op, status, code, 415, apitype.CodeUnsupportedMediaType)
			}
			status, code := f.send(f.request(op, "admin", false, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }))
			f.refused("Origin http://evil.example", op, status, code, 403, apitype.CodeForbidden)
			status, code = f.send(f.request(op, "admin", false, func(r *http.Request) { r.Header.Set("Origin", "null") }))
			f.refused("Origin null", op, status, code, 403, apitype.CodeForbidden)
		}
		status, code := f.send(f.request(op, "admin", false, evilHost))
		f.refused("Host evil.example", op, status, code, 421, apitype.CodeHostNotAllowed)
		if after := f.snapshot(); after != before {
			t.Fatalf("attacks on %s changed the server:\nbefore:\n%s\nafter:\n%s", op, before, after)
		}
	}
	// The console is behind the same Host check.
	for _, path := range []string{"/", "/pipelines/demo/release", "/login?code=x"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.b.server.URL+path, nil)
		req.Host = "evil.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 421 {
			t.Errorf("console GET %s with Host evil.example = %d, want 421", path, resp.StatusCode)
		}
		req.Host = "localhost" + strings.TrimPrefix(f.b.server.URL, "http://127.0.0.1")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("console GET %s with Host %s = %d, want 200", path, req.Host, resp.StatusCode)
		}
	}

	// The legitimate requests of the same shapes get through: with the
	// token, as JSON, from the server's own origin, for localhost, and
	// with a session and its CSRF token.
	sameOrigin := func(r *http.Request) { r.Header.Set("Origin", f.b.server.URL) }
	localhost := func(r *http.Request) { r.Host = "localhost" + strings.TrimPrefix(f.b.server.URL, "http://127.0.0.1") }
	for _, op := range ops {
		f.legit("token", op, "admin", nil)
		f.legit("Host localhost", op, "admin", localhost)
		if op.unsafe() {
			f.legit("same Origin", op, "admin", sameOrigin)
		}
		if op.access != "public" {
			s := f.adminSession()
			edit := withCookie(s.Secret)
			if op.unsafe() {
				edit = chain(edit, func(r *http.Request) { r.Header.Set(httpapi.CSRFHeader, s.Principal.CSRFToken) })
			}
			f.legit("session", op, "admin", edit)
		}
	}
}

func cmpOr(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// TestSecurityRoles checks every application-scoped and admin-only
// operation of openapi.json against principals with each right: a
// principal with no grant is refused everywhere, read may not execute or
// write, execute may not write, and only admins reach admin routes; and
// each principal gets through where its right suffices.
func TestSecurityRoles(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	rank := map[string]int{"read": 1, "execute": 2, "write": 3}
	has := map[string]int{"nobody": 0, "reader": 1, "operator": 2, "writer": 3}
	checked := 0
	for _, principal := range []string{"nobody", "reader", "operator", "writer"} {
		for _, op := range operations(t) {
			var allowed bool
			switch op.access {
			case "public", "authenticated":
				continue // TestSecurityAuthenticatedRoutes
			case "admin":
				allowed = false
			default:
				need, ok := rank[op.access]
				if !ok {
					t.Fatalf("%s: unknown x-sluice-access %q", op, op.access)
				}
				allowed = has[principal] >= need
			}
			checked++
			if allowed {
				f.legit(principal, op, principal, nil)
			} else {
				status, code := f.send(f.request(op, principal, false, nil))
				f.refused(principal, op, status, code, 403, apitype.CodeForbidden)
			}
		}
	}
	if checked < 4*20 {
		t.Errorf("checked %d operations by role; the API has more than 20 that need a right", checked/4)
	}
}

// TestSecurityAuthenticatedRoutes checks the routes any principal may
// call: they show only what it may read, and the audit log needs an
// application it may read.
func TestSecurityAuthenticatedRoutes(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	apply(t, f.c, "other", "secret", `{"stages":[{"refId":"1","type":"wait","waitTime":3600}]}`)
	if _, err := f.c.Trigger(ctx, "other", "secret", apitype.TriggerRequest{}); err != nil {
		t.Fatal(err)
	}
	client := func(principal string) *apiclient.Client {
		c, err := apiclient.New(f.b.server.URL, apiclient.WithToken(f.tokens[principal]))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		principal string
		apps      []string
	}{
		{"nobody", nil},
		{"reader", []string{"demo"}},
		{"admin", []string{"demo", "other"}},
	} {
		c := client(tt.principal)
		ps, err := c.ListPipelines(ctx, "")
		if err != nil {
			t.Fatalf("%s lists pipelines: %v", tt.principal, err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Application)
		}
		if !slices.Equal(got, tt.apps) {
			t.Errorf("%s lists pipelines of %v, want %v", tt.principal, got, tt.apps)
		}
		page, err := c.ListExecutions(ctx, apiclient.ListOptions{})
		if err != nil {
			t.Fatalf("%s lists executions: %v", tt.principal, err)
		}
		got = nil
		for _, e := range page.Executions {
			if !slices.Contains(got, e.Application) {
				got = append(got, e.Application)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.apps) {
			t.Errorf("%s lists executions of %v, want %v", tt.principal, got, tt.apps)
		}
	}
	_, err := client("nobody").ListExecutions(ctx, apiclient.ListOptions{Application: "demo"})
	apiError(t, err, 403, "forbidden")

	for _, tt := range []struct {
		principal, query string
		want             int
	}{
		{"nobody", "", 403},
		{"nobody", "?application=demo", 403},
		{"reader", "", 403},
		{"reader", "?application=other", 403},
		{"reader", "?execution=" + f.execID, 200},
		{"reader", "?application=demo", 200},
		{"admin", "", 200},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", f.b.server.URL+"/api/v1/audit"+tt.query, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[tt.principal])
		if status, code := f.send(req); status != tt.want {
			t.Errorf("%s GET /api/v1/audit%s = %d %s, want %d", tt.principal, tt.query, status, code, tt.want)
		}
	}
	entries, err := client("reader").ListAudit(ctx, apiclient.AuditOptions{Application: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries.Entries {
		if e.Application != "demo" {
			t.Errorf("reader's audit of demo has an entry of %q: %+v", e.Application, e)
		}
	}
	if len(entries.Entries) == 0 {
		t.Error("reader's audit of demo is empty; the save and trigger of demo/release are in it")
	}
}

// TestSecurityJudgmentRoles checks that a manualJudgment's
// selectedStageRoles decide who may judge it, that requiredJudgmentRoles
// take precedence, and that the role does not stand in for the right to
// execute.
func TestSecurityJudgmentRoles(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	judge := func(principal, stage string) (int, string, string) {
		t.Helper()
		req := f.request(operation{method: "POST", path: "/api/v1/executions/{id}/stages/" + stage + "/judgment", id: "judgeStage"}, principal, false, nil)
		if stage == "1" { // Approve continues only with one of its inputs
			body := `{"status":"continue","input":"ship"}`
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			body := readErrorBody(t, resp)
			return resp.StatusCode, body.Error.Code, body.Error.Message
		}
		return 200, "", ""
	}
	for _, tt := range []struct {
		principal, stage string
		want             int
		wantMessage      string // in a refusal
	}{
		// Approve: selectedStageRoles [release-managers].
		{"operator", "1", 403, "release-managers"},
		{"onlyrole", "1", 403, "may not run or operate executions of application demo"},
		{"reader", "1", 403, "demo"},
		// Gate: requiredJudgmentRoles [gatekeepers] win over
		// selectedStageRoles [release-managers].
		{"manager", "2", 403, "gatekeepers"},
		{"manager", "1", 200, ""},
		{"gatekeeper", "2", 200, ""},
	} {
		status, code, msg := judge(tt.principal, tt.stage)
		if status != tt.want || !strings.Contains(msg, tt.wantMessage) {
			t.Errorf("%s judges stage %s = %d %s %q, want %d with %q", tt.principal, tt.stage, status, code, msg, tt.want, tt.wantMessage)
		}
	}
	exec, err := f.c.GetExecution(t.Context(), f.execID)
	if err != nil {
		t.Fatal(err)
	}
	for ref, who := range map[string]string{"1": "token:manager", "2": "token:gatekeeper"} {
		if ctx := string(stageByRef(t, exec, ref).Context); !strings.Contains(ctx, who) {
			t.Errorf("stage %s's context %s does not name its judge %s", ref, ctx, who)
		}
	}
}

// TestSecuritySpoofedIdentity checks that X-Sluice-User, which once named
// the user, changes no record: executions, judgments, revisions and the
// audit log carry the authenticated principal.
func TestSecuritySpoofedIdentity(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	spoof := func(principal, method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, f.b.server.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.tokens[principal])
		req.Header.Set("X-Sluice-User", "admin@example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s as %s = %d %+v", method, path, principal, resp.StatusCode, readErrorBody(t, resp).Error)
		}
		resp.Body.Close()
		return resp
	}
	spoof("writer", "PUT", "/api/v1/pipelines/demo/release", secPipeline)
	p, err := f.c.GetPipeline(ctx, "demo", "release")
	if err != nil {
		t.Fatal(err)
	}
	if p.UpdatedBy != "token:writer" {
		t.Errorf("pipeline updatedBy = %q, want token:writer", p.UpdatedBy)
	}
	resp := spoof("operator", "POST", "/api/v1/pipelines/demo/release/executions", `{}`)
	id := path.Base(resp.Header.Get("Location"))
	exec, err := f.c.GetExecution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if exec.User != "token:operator" {
		t.Errorf("execution user = %q, want token:operator", exec.User)
	}
	// The fixture's execution is judged and cancelled.
	spoof("manager", "POST", "/api/v1/executions/"+f.execID+"/stages/1/judgment", `{"status":"continue","input":"ship"}`)
	spoof("operator", "POST", "/api/v1/executions/"+f.execID+"/cancel", `{}`)

	want := map[string]string{"pipeline.save": "token:writer", "trigger": "token:operator", "judge": "token:manager", "cancel": "token:operator"}
	entries, err := f.b.store.AuditList(ctx, &store.AuditListParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if strings.Contains(e.User, "example.com") {
			t.Errorf("audit entry %s carries the spoofed user %q", e.Action, e.User)
		}
		if e.ExecutionID == id || e.ExecutionID == f.execID && e.Action != "trigger" || e.Action == "pipeline.save" && e.User != testUser {
			if w, ok := want[e.Action]; ok {
				seen[e.Action] = true
				if e.User != w {
					t.Errorf("audit %s by %q, want %s", e.Action, e.User, w)
				}
			}
		}
	}
	for action := range want {
		if !seen[action] {
			t.Errorf("no audit entry of %s", action)
		}
	}
}

// TestSecurityAudit checks that the audit log records every change the
// API makes — pipeline and canary config save and delete, run, judgment, cancel, token
// create and revoke, login — with who and from where.
func TestSecurityAudit(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	c := f.c
	// setupSecurity saved demo/release and ran it.
	if _, err := c.Judge(ctx, f.execID, "1", apitype.JudgmentRequest{Status: "continue", Input: "ship"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(ctx, f.execID, "audit"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePipeline(ctx, "demo", "release"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteCanaryConfig(ctx, "demo-canary"); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, apitype.TokenRequest{Name: "ci", Roles: []string{"operators"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenSession(ctx, apitype.SessionRequest{Token: f.tokens["reader"]}, nil); err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, user, via string }{
		{"pipeline.save", testUser, "token"},
		{"canary-config.save", testUser, "token"},
		{"trigger", testUser, "token"},
		{"judge", testUser, "token"},
		{"cancel", testUser, "token"},
		{"pipeline.delete", testUser, "token"},
		{"canary-config.delete", testUser, "token"},
		{"token.create", testUser, "token"},
		{"token.revoke", testUser, "token"},
		{"login", "token:reader", "token"},
	}
	list, err := c.ListAudit(ctx, apiclient.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(list.Entries) - 1; i >= 0; i-- { // oldest first
		e := list.Entries[i]
		got = append(got, e.Action)
		for _, w := range want {
			if w.action != e.Action {
				continue
			}
			if e.User != w.user || !strings.HasPrefix(e.Source, "127.0.0.1 ") || !strings.HasSuffix(e.Source, " "+w.via) {
				t.Errorf("audit %s = user %q source %q, want %s from 127.0.0.1 by %s", e.Action, e.User, e.Source, w.user, w.via)
			}
		}
	}
	var wantActions []string
	for _, w := range want {
		wantActions = append(wantActions, w.action)
	}
	if !slices.Equal(got, wantActions) {
		t.Errorf("audit actions = %v, want %v", got, wantActions)
	}
	for _, e := range list.Entries {
		if e.Action == "token.create" && (e.Details["token"] != "ci" || e.Details["id"] != tok.ID) {
			t.Errorf("token.create details = %v, want the token's name and id", e.Details)
		}
	}
}
