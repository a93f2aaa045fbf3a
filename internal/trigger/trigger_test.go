package trigger

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		expr, tz, after, want string
	}{
		{"0 0 12 * * ?", "UTC", "2026-03-02T12:00:00Z", "2026-03-03T12:00:00Z"},
		{"0 15 10 ? * MON-FRI", "UTC", "2026-03-06T10:15:00Z", "2026-03-09T10:15:00Z"}, // Friday → Monday
		{"0 0/5 14 * * ?", "UTC", "2026-03-02T14:56:00Z", "2026-03-03T14:00:00Z"},
		{"0 15 10 L * ?", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T10:15:00Z"},
		{"0 15 10 ? * 6#3", "UTC", "2026-03-01T00:00:00Z", "2026-03-20T10:15:00Z"}, // third Friday
		{"0 15 10 ? * 6L", "UTC", "2026-03-01T00:00:00Z", "2026-03-27T10:15:00Z"},  // last Friday
		{"0 0 9 15W * ?", "UTC", "2026-03-01T00:00:00Z", "2026-03-16T09:00:00Z"},   // the 15th is a Sunday
		{"0 0 9 * * ?", "Europe/Berlin", "2026-03-02T00:00:00Z", "2026-03-02T08:00:00Z"},
		{"0 0 9 * * ? 2030", "UTC", "2026-03-02T00:00:00Z", "2030-01-01T09:00:00Z"},
		{"0 0 0 31 * ?", "UTC", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},           // April has no 31st
		{"0 30 2 * * ?", "Europe/Berlin", "2026-03-28T02:00:00Z", "2026-03-30T00:30:00Z"}, // 02:30 does not exist on the 29th
		{"0 0 22-2/2 ? * FRI-MON", "UTC", "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"}, // wrapping ranges
		{"*/20 * * * * ?", "UTC", "2026-03-02T10:00:40Z", "2026-03-02T10:01:00Z"},
	} {
		s, err := ParseCron("id", tt.expr, tt.tz)
		if err != nil {
			t.Errorf("ParseCron(%q): %v", tt.expr, err)
			continue
		}
		got, err := s.Next(at(tt.after))
		if err != nil || !got.Equal(at(tt.want)) {
			t.Errorf("%q in %s after %s = %v, %v; want %s", tt.expr, tt.tz, tt.after, got, err, tt.want)
		}
	}
	if s, err := ParseCron("id", "0 0 9 * * ? 2020", "UTC"); err == nil {
		if _, err := s.Next(at("2026-01-01T00:00:00Z")); err != ErrNoMoreTicks {
			t.Errorf("a past year: %v, want ErrNoMoreTicks", err)
		}
	}
	if s, err := ParseCron("id", "0 0 0 30 2 ?", "UTC"); err != nil {
		t.Errorf("the 30th of February parses in Quartz: %v", err)
	} else if _, err := s.Next(at("2026-01-01T00:00:00Z")); err != ErrNoMoreTicks {
		t.Errorf("the 30th of February: %v, want ErrNoMoreTicks", err)
	}
	for _, bad := range []string{"* * * * *", "0 0 25 * * ?", "0 0 12 32 * ?", "nonsense", "0 0 12 * * ? * *", "0 0 12 * * *",
		"0 0 12 ? * 8", "0 0 12 1,L * ?", "*/0 * * * * ?", "0 0 12 ? * MON#6"} {
		if _, err := ParseCron("id", bad, "UTC"); err == nil {
			t.Errorf("ParseCron(%q) accepted it", bad)
		}
	}
}

// TestFuzzH: H is Echo's CronExpressionFuzzer hash of the trigger id
// (Java's String.hashCode), the same for the same id.
func TestFuzzH(t *testing.T) {
	t.Parallel()
	// "abc".hashCode() = 96354; 96354 % 60 = 54, % 24 = 18.
	if got := fuzz("abc", 59); got != 54 {
		t.Errorf("fuzz(abc, 59) = %d, want 54", got)
	}
	if got := fuzz("abc", 23); got != 18 {
		t.Errorf("fuzz(abc, 23) = %d, want 18", got)
	}
	// A hash that overflows to negative: Math.abs of the remainder.
	if got := fuzz("polygenelubricants", 59); got < 0 || got > 59 {
		t.Errorf("fuzz out of range: %d", got)
	}
	s, err := ParseCron("abc", "0 H H * * ?", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 1, 1, 18, 54, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("0 H H * * ? for abc: next %v, want %v", got, want)
	}
}

func TestMatchPayload(t *testing.T) {
	t.Parallel()
	var payload map[string]any
	if err := json.Unmarshal([]byte(`{"branch": "main", "n": 42, "repo": {"name": "svc", "tags": ["a", "prod"]}, "nil": null}`), &payload); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		constraints map[string]any
		want        bool
	}{
		{nil, true},
		{map[string]any{"branch": "main"}, true},
		{map[string]any{"branch": "ai"}, true}, // a search, as Java's asPredicate
		{map[string]any{"branch": "^ai$"}, false},
		{map[string]any{"n": "^42$"}, true},
		{map[string]any{"missing": ".*"}, false},
		{map[string]any{"nil": ".*"}, false},
		{map[string]any{"branch": nil}, true},
		{map[string]any{"$.repo.name": "^svc$"}, true},
		{map[string]any{"$.repo.tags[*]": "^prod$"}, true},
		{map[string]any{"$.repo.tags[0]": "^prod$"}, false},
		{map[string]any{"$['repo']['name']": "svc"}, true},
		{map[string]any{"branch": "(["}, false},
	} {
		if got := MatchPayload(tt.constraints, payload); got != tt.want {
			t.Errorf("MatchPayload(%v) = %v, want %v", tt.constraints, got, tt.want)
		}
	}
}

func TestMatchGit(t *testing.T) {
	t.Parallel()
	ev := &GitEvent{Source: "github", Project: "Acme", Slug: "svc", Branch: "release/2.0", Action: "push:push"}
	for _, tt := range []struct {
		fields map[string]any
		want   bool
	}{
		{map[string]any{"source": "github", "project": "acme", "slug": "SVC"}, true},
		{map[string]any{"source": "gitlab", "project": "acme", "slug": "svc"}, false},
		{map[string]any{"source": "github", "project": "acme", "slug": "svc", "branch": "release/.*"}, true},
		{map[string]any{"source": "github", "project": "acme", "slug": "svc", "branch": "release"}, false}, // whole match
		{map[string]any{"source": "github", "project": "acme", "slug": "svc", "events": []any{"push:push"}}, true},
		{map[string]any{"source": "github", "project": "acme", "slug": "svc", "events": []any{"pull_request:opened"}}, false},
	} {
		if got := MatchGit(tt.fields, ev); got != tt.want {
			t.Errorf("MatchGit(%v) = %v, want %v", tt.fields, got, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	secret := []byte("0123456789abcdef")
	h := http.Header{}
	h.Set(HeaderHubSignature, Sign(secret, body))
	if !Verify(secret, h, body) {
		t.Error("a good signature is refused")
	}
	if Verify(secret, h, []byte(`{"a":2}`)) {
		t.Error("a signature of another body is accepted")
	}
	if Verify([]byte("other-secret-xyz"), h, body) {
		t.Error("a signature under another secret is accepted")
	}
	h.Set(HeaderHubSignature, strings.TrimPrefix(Sign(secret, body), "sha256="))
	if Verify(secret, h, body) {
		t.Error("a signature without sha256= is accepted")
	}
	gl := http.Header{}
	gl.Set(HeaderGitLabToken, string(secret))
	if !Verify(secret, gl, body) || Verify(nil, gl, body) {
		t.Error("GitLab's token: want accepted with the secret, refused without one")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	r := Builtin(func(n string) bool { return n == "known" })
	for _, tt := range []struct {
		typ    string
		fields map[string]any
		want   []string // fields with problems
	}{
		{"cron", map[string]any{"cronExpression": "0 0 12 * * ?"}, nil},
		{"cron", map[string]any{}, []string{"cronExpression"}},
		{"cron", map[string]any{"cronExpression": "0 0 12 * * ?", "timeZone": "Mars/Olympus"}, []string{"timeZone"}},
		{"webhook", map[string]any{"source": "a/b"}, []string{"source"}},
		{"webhook", map[string]any{"source": "ci", "secretName": "known", "payloadConstraints": map[string]any{"$..x": "a"}}, []string{`payloadConstraints["$..x"]`}},
		{"git", map[string]any{"source": "bitbucket", "project": "p", "slug": "s"}, []string{"source"}},
		{"git", map[string]any{"source": "github", "project": "p", "slug": "s", "branch": "(", "secretName": "unknown"}, []string{"branch", "secretName"}},
	} {
		var got []string
		for _, p := range r.ValidateFields(tt.typ, tt.fields) {
			got = append(got, p.Field)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s %v: problems at %v, want %v", tt.typ, tt.fields, got, tt.want)
		}
	}
}
