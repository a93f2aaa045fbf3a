package trigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// The git sources Sluice reads deliveries from.
const (
	SourceGitHub = "github"
	SourceGitLab = "gitlab"
)

// gitKind is Echo's git trigger: {type: "git", source, project, slug,
// branch, events, secretName}.
type gitKind struct{ secrets Secrets }

func (k gitKind) Validate(fields map[string]any) []pipeline.FieldProblem {
	var problems []pipeline.FieldProblem
	switch src := str(fields, "source", &problems); strings.ToLower(src) {
	case SourceGitHub, SourceGitLab:
	case "":
		problems = append(problems, pipeline.FieldProblem{Field: "source", Msg: `missing source; set "source" to "github" or "gitlab"`})
	case "bitbucket", "stash":
		problems = append(problems, pipeline.FieldProblem{Field: "source",
			Msg: fmt.Sprintf("Sluice reads github and gitlab deliveries, not %s ones yet; use a webhook trigger with payloadConstraints instead", src)})
	default:
		problems = append(problems, pipeline.FieldProblem{Field: "source", Msg: fmt.Sprintf("unknown git source %q; use \"github\" or \"gitlab\"", src)})
	}
	for _, f := range []string{"project", "slug"} {
		if strings.TrimSpace(str(fields, f, &problems)) == "" {
			problems = append(problems, pipeline.FieldProblem{Field: f,
				Msg: fmt.Sprintf("missing %s; Echo fires a git trigger only when project and slug are set (the repository's owner and name)", f)})
		}
	}
	if b := str(fields, "branch", &problems); b != "" {
		if _, err := regexp.Compile(anchored(b)); err != nil {
			problems = append(problems, pipeline.FieldProblem{Field: "branch",
				Msg: fmt.Sprintf("not a regular expression (%v); it is matched against the whole branch name", err)})
		}
	}
	switch ev := fields["events"].(type) {
	case nil:
	case []any:
		for i, e := range ev {
			if _, ok := e.(string); !ok {
				problems = append(problems, pipeline.FieldProblem{Field: fmt.Sprintf("events[%d]", i), Msg: fmt.Sprintf("must be a string, got %T", e)})
			}
		}
	default:
		problems = append(problems, pipeline.FieldProblem{Field: "events", Msg: `must be a list of actions, e.g. ["push:push"]`})
	}
	checkSecret(fields, k.secrets, &problems)
	return problems
}

// anchored makes a Go regular expression match the whole text, as Java's
// Matcher.matches does.
func anchored(re string) string { return `^(?:` + re + `)$` }

// GitEvent is what Echo reads of a git delivery.
type GitEvent struct {
	Source  string // github or gitlab
	Project string // the repository's owner (GitHub) or namespace (GitLab)
	Slug    string // the repository's name
	Branch  string // the ref without refs/heads/
	Hash    string // the commit after the push
	// Action is what events filters on: GitHub "push:push" (Echo joins
	// the event kind and its action), GitLab the object_kind ("push",
	// "tag_push").
	Action string
}

// ErrPing is returned by ParseGitEvent for GitHub's ping, which Echo
// accepts and ignores.
var ErrPing = fmt.Errorf("ping")

// ParseGitEvent reads a GitHub or GitLab push delivery as Echo's
// GithubWebhookEventHandler (push events) and GitlabWebhookEventHandler do.
func ParseGitEvent(source string, body []byte) (*GitEvent, error) {
	switch strings.ToLower(source) {
	case SourceGitHub:
		var p struct {
			HookID     any    `json:"hook_id"`
			Ref        string `json:"ref"`
			After      string `json:"after"`
			Repository struct {
				Name  string `json:"name"`
				Owner struct {
					Name  string `json:"name"`
					Login string `json:"login"`
				} `json:"owner"`
			} `json:"repository"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("read GitHub delivery: %w", err)
		}
		if p.HookID != nil {
			return nil, ErrPing
		}
		return &GitEvent{Source: SourceGitHub, Project: p.Repository.Owner.Name, Slug: p.Repository.Name,
			Branch: strings.Replace(p.Ref, "refs/heads/", "", 1), Hash: p.After, Action: "push:push"}, nil
	case SourceGitLab:
		var p struct {
			ObjectKind string `json:"object_kind"`
			Ref        string `json:"ref"`
			After      string `json:"after"`
			Project    struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"project"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("read GitLab delivery: %w", err)
		}
		return &GitEvent{Source: SourceGitLab, Project: p.Project.Namespace, Slug: p.Project.Name,
			Branch: strings.Replace(p.Ref, "refs/heads/", "", 1), Hash: p.After, Action: p.ObjectKind}, nil
	}
	return nil, fmt.Errorf("unknown git source %q; Sluice reads github and gitlab deliveries", source)
}

// MatchGit applies Echo's GitEventHandler.matchTriggerFor (less the
// signature, which the caller checks): source, project and slug equal
// ignoring case; branch empty or a regular expression matching the whole
// branch; events empty or listing the event's action.
func MatchGit(fields map[string]any, ev *GitEvent) bool {
	s := func(k string) string { v, _ := fields[k].(string); return v }
	if !strings.EqualFold(s("source"), ev.Source) || !strings.EqualFold(s("project"), ev.Project) ||
		!strings.EqualFold(s("slug"), ev.Slug) {
		return false
	}
	if b := s("branch"); b != "" {
		re, err := regexp.Compile(anchored(b))
		if err != nil || !re.MatchString(ev.Branch) {
			return false
		}
	}
	events, _ := fields["events"].([]any)
	if len(events) == 0 {
		return true
	}
	return slices.ContainsFunc(events, func(e any) bool { return e == ev.Action })
}

// Signature headers.
const (
	HeaderHubSignature = "X-Hub-Signature-256"
	HeaderGitLabToken  = "X-Gitlab-Token"
)

// Sign returns the X-Hub-Signature-256 value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether the delivery carries proof of secret: an
// X-Hub-Signature-256 HMAC-SHA256 of the body (GitHub's, and Sluice's for
// webhook triggers), or, for GitLab, an X-Gitlab-Token equal to the
// secret. Both compare in constant time.
func Verify(secret []byte, h http.Header, body []byte) bool {
	if len(secret) == 0 {
		return false
	}
	if sig := h.Get(HeaderHubSignature); sig != "" {
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		if err != nil || !strings.HasPrefix(sig, "sha256=") {
			return false
		}
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		return hmac.Equal(got, m.Sum(nil))
	}
	if tok := h.Get(HeaderGitLabToken); tok != "" {
		return subtle.ConstantTimeCompare([]byte(tok), secret) == 1
	}
	return false
}
