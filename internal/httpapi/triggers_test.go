package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// hookSecret is the trigger secret the trigger tests' server holds, as
// sluice.yaml's triggers.secrets would.
const hookSecret = "s3cret-0123456789abcdef"

// triggerServer is a server with the engine on st, trigger secrets, and
// principals with each right on the application hooks.
type triggerServer struct {
	t      *testing.T
	url    string
	admin  *apiclient.Client
	st     store.Store
	tokens map[string]string
}

func setupTriggers(t *testing.T, st store.Store) *triggerServer {
	t.Helper()
	a, token := sluicetest.Auth(t, st, "alice", auth.RoleAdmin)
	policy, err := auth.ParseConfig([]byte("auth:\n  applications:\n    hooks:\n      read: [readers]\n      execute: [operators]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := stage.NewRegistry(wait.Type{}, variables.Type{})
	secrets := map[string]string{"ci": hookSecret}
	cfg := httpapi.Config{
		Store: st, Auth: a, Policy: auth.NewPolicy(policy), Stages: reg,
		Logger:         slog.New(slog.DiscardHandler),
		Engine:         sluicetest.StartEngine(t, engine.Config{Store: st, Stages: reg}),
		TriggerSecrets: secrets,
		Validate: pipeline.ValidateOptions{StageTypes: reg, CheckExpression: expr.Check,
			TriggerTypes: trigger.Builtin(func(n string) bool { _, ok := secrets[n]; return ok })},
	}
	srv := httptest.NewServer(checkOpenAPI(t, httpapi.New(cfg)))
	t.Cleanup(srv.Close)
	c, err := apiclient.New(srv.URL, apiclient.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	ts := &triggerServer{t: t, url: srv.URL, admin: c, st: st, tokens: map[string]string{}}
	for name, role := range map[string]string{"operator": "operators", "reader": "readers"} {
		secret, _, err := a.CreateToken(t.Context(), auth.TokenParams{Name: name, Roles: []string{role}, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[name] = secret
	}
	return ts
}

// post delivers body to path with the headers and returns the status and
// the decoded answer.
func (ts *triggerServer) post(path, body string, header map[string]string) (int, apitype.DeliveryResult, string) {
	ts.t.Helper()
	req, err := http.NewRequestWithContext(ts.t.Context(), http.MethodPost, ts.url+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out apitype.DeliveryResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			ts.t.Fatalf("answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, out, string(raw)
}

func signed(body string, extra ...string) map[string]string {
	h := map[string]string{trigger.HeaderHubSignature: trigger.Sign([]byte(hookSecret), []byte(body))}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

const webhookPipeline = `{
  "application": "hooks", "name": "deploy", "limitConcurrent": false,
  "parameterConfig": [{"name": "version", "default": "0"}],
  "triggers": [{"type": "webhook", "id": "ci", "enabled": true, "source": "ci", "secretName": "ci",
    "payloadConstraints": {"branch": "^main$", "$.repository.name": "svc"}}],
  "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Read",
    "variables": [{"key": "version", "value": "${trigger.parameters.version}"},
                  {"key": "artifact", "value": "${trigger.payload.artifact}"},
                  {"key": "user", "value": "${trigger.user}"}]}]
}`

// TestWebhookTrigger delivers webhooks: unsigned, badly signed, not
// meeting the payload constraints, signed, replayed, with tokens of each
// right, and after the trigger is disabled.
func TestWebhookTrigger(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ts := setupTriggers(t, st)
		ctx := t.Context()
		apply(t, ts.admin, "hooks", "deploy", webhookPipeline)
		const path = "/webhooks/webhook/ci"
		body := `{"branch": "main", "repository": {"name": "svc"}, "artifact": "s3://builds/build-123.zip", "parameters": {"version": "1.2.3"}}`

		if status, _, msg := ts.post(path, body, nil); status != 401 {
			t.Errorf("unsigned delivery = %d %s, want 401", status, msg)
		}
		bad := signed(body)
		bad[trigger.HeaderHubSignature] = trigger.Sign([]byte("not-the-secret-at-all"), []byte(body))
		if status, _, msg := ts.post(path, body, bad); status != 401 {
			t.Errorf("badly signed delivery = %d %s, want 401", status, msg)
		}
		other := `{"branch": "feature/x", "repository": {"name": "svc"}}`
		if status, out, msg := ts.post(path, other, signed(other)); status != 200 || len(out.Executions) != 0 {
			t.Errorf("delivery off the constraints = %d %s, want 200 starting nothing", status, msg)
		}

		status, out, msg := ts.post(path, body, signed(body, "X-Sluice-Delivery", "build-123"))
		if status != 200 || len(out.Executions) != 1 {
			t.Fatalf("signed delivery = %d %s, want one execution", status, msg)
		}
		id := out.Executions[0].ID
		exec := waitFor(t, ts.admin, id, "SUCCEEDED", execStatus("SUCCEEDED"))
		outputs := obj(t, exec.Stages[0].Outputs)
		if outputs["version"] != "1.2.3" || outputs["artifact"] != "s3://builds/build-123.zip" || outputs["user"] != "webhook:ci" {
			t.Errorf("outputs = %v, want the payload's parameters and artifact, by webhook:ci", outputs)
		}
		if trig := obj(t, exec.Trigger); trig["type"] != "webhook" || trig["eventId"] != "build-123" || trig["secretName"] != nil {
			t.Errorf("trigger = %s, want type webhook, eventId build-123 and no secretName", exec.Trigger)
		}

		if status, out, msg := ts.post(path, body, signed(body, "X-Sluice-Delivery", "build-123")); status != 200 || len(out.Executions) != 0 || len(out.Replayed) != 1 {
			t.Errorf("replayed delivery = %d %s, want 200 starting nothing and naming the replay", status, msg)
		}

		if status, _, msg := ts.post(path, body, map[string]string{"Authorization": "Bearer " + ts.tokens["reader"]}); status != 403 {
			t.Errorf("delivery by a reader = %d %s, want 403", status, msg)
		}
		if status, _, msg := ts.post(path, body, map[string]string{"Authorization": "Bearer sluice_forged"}); status != 401 {
			t.Errorf("delivery with a bad token = %d %s, want 401", status, msg)
		}
		status, out, msg = ts.post(path, body, map[string]string{"Authorization": "Bearer " + ts.tokens["operator"]})
		if status != 200 || len(out.Executions) != 1 {
			t.Fatalf("delivery by an operator = %d %s, want one execution", status, msg)
		}
		byOperator := waitFor(t, ts.admin, out.Executions[0].ID, "SUCCEEDED", execStatus("SUCCEEDED"))
		if obj(t, byOperator.Trigger)["user"] != "token:operator" {
			t.Errorf("trigger = %s, want trigger.user the token's name", byOperator.Trigger)
		}

		p, err := ts.admin.GetPipeline(ctx, "hooks", "deploy")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Triggers) != 1 || p.Triggers[0].LastExecutionID != byOperator.ID || p.Triggers[0].LastFiredAt == nil || !p.Triggers[0].Runs {
			t.Errorf("triggers = %+v, want the last firing %s", p.Triggers, byOperator.ID)
		}

		if _, err := ts.admin.SetTriggerEnabled(ctx, "hooks", "deploy", "ci", false); err != nil {
			t.Fatal(err)
		}
		if status, _, msg := ts.post(path, body, signed(body, "X-Sluice-Delivery", "build-124")); status != 401 {
			t.Errorf("delivery to a disabled trigger = %d %s, want 401 (no trigger may take it)", status, msg)
		}
		audit, err := ts.st.AuditList(ctx, &store.AuditListParams{Action: "trigger.disable"})
		if err != nil || len(audit) != 1 || !strings.HasSuffix(audit[0].User, "alice") {
			t.Errorf("trigger.disable audit = %+v, %v; want one by alice", audit, err)
		}
	})
}

// A GitHub push as GitHub sends it (trimmed of what Echo does not read).
const githubPush = `{
  "ref": "refs/heads/%s",
  "before": "0000000000000000000000000000000000000000",
  "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "repository": {"id": 1296269, "name": "svc", "full_name": "acme/svc",
    "owner": {"name": "acme", "login": "acme", "id": 1}, "default_branch": "main"},
  "pusher": {"name": "octocat", "email": "octocat@github.com"},
  "head_commit": {"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "message": "Release"},
  "commits": []
}`

// A GitLab push hook as GitLab sends it (trimmed).
const gitlabPush = `{
  "object_kind": "push", "event_name": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "ref": "refs/heads/main", "user_username": "jsmith",
  "project": {"id": 15, "name": "svc", "namespace": "acme", "path_with_namespace": "acme/svc", "default_branch": "main"},
  "commits": [], "total_commits_count": 0
}`

const gitPipeline = `{
  "application": "hooks", "name": "release", "limitConcurrent": false,
  "triggers": [
    {"type": "git", "id": "gh", "enabled": true, "source": "github", "project": "acme", "slug": "svc",
     "branch": "main|release/.*", "secretName": "ci"},
    {"type": "git", "id": "gl", "enabled": true, "source": "gitlab", "project": "ACME", "slug": "svc",
     "events": ["push"], "secretName": "ci"}],
  "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Read",
    "variables": [{"key": "branch", "value": "${trigger.branch}"}, {"key": "hash", "value": "${trigger.hash}"}]}]
}`

// TestGitTrigger delivers GitHub and GitLab pushes: on a matching and a
// non-matching branch, badly signed, and GitHub's ping.
func TestGitTrigger(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ts := setupTriggers(t, st)
		apply(t, ts.admin, "hooks", "release", gitPipeline)
		push := func(branch string) string { return strings.Replace(githubPush, "%s", branch, 1) }

		body := push("release/2.0")
		status, out, msg := ts.post("/webhooks/git/github", body, signed(body, "X-GitHub-Event", "push", "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"))
		if status != 200 || len(out.Executions) != 1 || out.Executions[0].Trigger != "gh" {
			t.Fatalf("GitHub push on release/2.0 = %d %s, want one execution by trigger gh", status, msg)
		}
		exec := waitFor(t, ts.admin, out.Executions[0].ID, "SUCCEEDED", execStatus("SUCCEEDED"))
		if o := obj(t, exec.Stages[0].Outputs); o["branch"] != "release/2.0" || o["hash"] != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
			t.Errorf("outputs = %v, want the push's branch and hash", o)
		}
		if trig := obj(t, exec.Trigger); trig["type"] != "git" || trig["user"] != "git:github" {
			t.Errorf("trigger = %s, want a git trigger by git:github", exec.Trigger)
		}

		body = push("feature/x")
		if status, out, msg := ts.post("/webhooks/git/github", body, signed(body)); status != 200 || len(out.Executions) != 0 {
			t.Errorf("GitHub push on feature/x = %d %s, want nothing started", status, msg)
		}
		body = push("main")
		if status, _, msg := ts.post("/webhooks/git/github", body, map[string]string{trigger.HeaderHubSignature: "sha256=" + strings.Repeat("0", 64)}); status != 401 {
			t.Errorf("GitHub push with a bad signature = %d %s, want 401", status, msg)
		}
		ping := `{"zen": "Keep it logically awesome.", "hook_id": 42, "repository": {"name": "svc", "owner": {"name": "acme"}}}`
		if status, out, msg := ts.post("/webhooks/git/github", ping, signed(ping)); status != 200 || len(out.Executions) != 0 {
			t.Errorf("GitHub ping = %d %s, want 200 starting nothing", status, msg)
		}

		if status, _, msg := ts.post("/webhooks/git/gitlab", gitlabPush, map[string]string{trigger.HeaderGitLabToken: "wrong-token-wrong-token"}); status != 401 {
			t.Errorf("GitLab push with a wrong token = %d %s, want 401", status, msg)
		}
		status, out, msg = ts.post("/webhooks/git/gitlab", gitlabPush, map[string]string{trigger.HeaderGitLabToken: hookSecret, "X-Gitlab-Event": "Push Hook"})
		if status != 200 || len(out.Executions) != 1 || out.Executions[0].Trigger != "gl" {
			t.Fatalf("GitLab push = %d %s, want one execution by trigger gl (project matched ignoring case)", status, msg)
		}
		tag := strings.Replace(strings.Replace(gitlabPush, `"push"`, `"tag_push"`, 2), "refs/heads/main", "refs/tags/v1", 1)
		if status, out, msg := ts.post("/webhooks/git/gitlab", tag, map[string]string{trigger.HeaderGitLabToken: hookSecret}); status != 200 || len(out.Executions) != 0 {
			t.Errorf("GitLab tag push = %d %s, want nothing started (events lists push only)", status, msg)
		}
	})
}

// TestTriggerValidation: a trigger's fields are checked on save, naming
// the field; a secret in the document is refused.
func TestTriggerValidation(t *testing.T) {
	t.Parallel()
	ts := setupTriggers(t, sluicetest.OpenSQLite(t))
	_, err := ts.admin.PutPipeline(t.Context(), "hooks", "bad", []byte(`{"stages": [], "triggers": [
  {"type": "cron", "enabled": true, "cronExpression": "0 0 25 * * ?"},
  {"type": "webhook", "enabled": true, "payloadConstraints": {"branch": "(["}},
  {"type": "git", "enabled": true, "source": "github", "project": "acme", "secret": "hunter2"},
  {"type": "webhook", "enabled": true, "source": "ci", "secretName": "nope", "id": "twice"},
  {"type": "webhook", "enabled": true, "source": "ci", "id": "twice"}]}`), "")
	e := apiError(t, err, 400, apitype.CodeInvalidPipeline)
	containsAll(t, "problem paths", detailPaths(e), "triggers[0].cronExpression", "triggers[1].source",
		`triggers[1].payloadConstraints["branch"]`, "triggers[2].slug", "triggers[2].secret", "triggers[3].secretName", "triggers[4].id")
	var buf bytes.Buffer
	for _, d := range e.Details {
		buf.WriteString(d.Path + ": " + d.Message + "\n")
	}
	if !strings.Contains(buf.String(), "sluice.yaml") {
		t.Errorf("problems:\n%s\nwant the secret ones to say where secrets go", buf.String())
	}
}

func obj(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}
