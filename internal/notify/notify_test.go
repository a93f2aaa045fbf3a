package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/egress"
)

var when = time.Date(2026, 12, 7, 3, 4, 5, 0, time.UTC)

func failedMessage(typ, addr string) *Message {
	return &Message{
		Delivery: "ex1/0", Event: "pipeline.failed", Type: typ, Address: addr,
		Application: "shop", Pipeline: "deploy <prod>",
		Execution: Execution{ID: "ex1", Status: "TERMINAL", User: "alice", StartTime: 1000, EndTime: 2000},
		Text:      "Page the *on-call* & check the dashboard",
		Time:      when,
	}
}

func judgmentMessage(typ, addr string) *Message {
	score := 97.5
	return &Message{
		Delivery: "ex2/3", Event: "manualJudgment", Type: typ, Address: addr,
		Application: "shop", Pipeline: "release",
		Execution: Execution{ID: "ex2", Status: "RUNNING", User: "ci"},
		Stage:     &Stage{ID: "st9", RefID: "4", Name: "Promote?", Type: "manualJudgment", Status: "RUNNING"},
		Judgment:  &Judgment{Instructions: "Check the canary, then promote."},
		Canary:    &Canary{Stage: "Canary analysis", Score: &score, Result: "pass"},
		Time:      when,
	}
}

// receiver is a real HTTP server that keeps what it is sent.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
	paths   []string
	answer  func(w http.ResponseWriter, n int)
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, n int)) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: body is not a JSON object: %v: %s", req.URL.Path, err, b)
		}
		if req.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", req.Method)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.headers = append(r.headers, req.Header.Clone())
		r.paths = append(r.paths, req.URL.Path)
		n := len(r.bodies)
		r.mu.Unlock()
		if r.answer != nil {
			r.answer(w, n)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies
}

func jsonValue(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	return m
}

func sameJSON(t *testing.T, got map[string]any, want string) {
	t.Helper()
	w := jsonValue(t, want)
	if !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", "  ")
		e, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("payload:\n%s\nwant:\n%s", g, e)
	}
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	cfg.ExternalURL = "https://sluice.example.com/"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSlackIncomingWebhook checks the payload Slack documents for an
// incoming webhook (text, and an attachment with title, title_link,
// text, fallback, color, footer, mrkdwn_in, ts), with Slack's escaping.
func TestSlackIncomingWebhook(t *testing.T) {
	t.Parallel()
	slack := newReceiver(t, nil)
	s := newSender(t, Config{})
	if err := s.Send(context.Background(), failedMessage("slack", slack.URL+"/services/T000/B000/XXXX")); err != nil {
		t.Fatal(err)
	}
	got := slack.got()
	if len(got) != 1 || slack.paths[0] != "/services/T000/B000/XXXX" {
		t.Fatalf("got %d posts to %v, want 1 to the webhook path", len(got), slack.paths)
	}
	sameJSON(t, got[0], `{
	  "text": "Pipeline failed for SHOP: Shop's deploy <prod> pipeline has failed",
	  "attachments": [{
	    "title": "Pipeline failed for SHOP",
	    "title_link": "https://sluice.example.com/executions/ex1",
	    "text": "Shop's <https://sluice.example.com/executions/ex1|deploy &lt;prod&gt;> pipeline has failed\n\nPage the *on-call* &amp; check the dashboard",
	    "fallback": "Shop's deploy <prod> pipeline has failed\n\nPage the *on-call* & check the dashboard\n\nhttps://sluice.example.com/executions/ex1",
	    "color": "#B82525",
	    "footer": "Sluice",
	    "mrkdwn_in": ["text"],
	    "ts": 1796612645
	  }]
	}`)
	if d := slack.headers[0].Get("X-Sluice-Delivery"); d != "ex1/0" {
		t.Errorf("X-Sluice-Delivery = %q, want ex1/0", d)
	}
}

// TestSlackJudgment checks that a judgment message links to the
// console's judgment form and carries the canary's verdict and the
// instructions.
func TestSlackJudgment(t *testing.T) {
	t.Parallel()
	slack := newReceiver(t, nil)
	s := newSender(t, Config{})
	if err := s.Send(context.Background(), judgmentMessage("slack", slack.URL+"/services/x")); err != nil {
		t.Fatal(err)
	}
	att := slack.got()[0]["attachments"].([]any)[0].(map[string]any)
	link := "https://sluice.example.com/executions/ex2#judgment-4"
	want := "Stage Promote? for Shop's <" + link + "|release> pipeline is awaiting manual judgment\n" +
		"Instructions: Check the canary, then promote.\n" +
		"Canary analysis (Canary analysis): score 97.5, result pass\n\n" +
		"<" + link + "|Judge it in Sluice>"
	if att["text"] != want {
		t.Errorf("text = %q\nwant %q", att["text"], want)
	}
	if att["title"] != "Manual judgment awaited for SHOP" || att["title_link"] != link || att["color"] != "#2275B8" {
		t.Errorf("title, link, color = %v, %v, %v", att["title"], att["title_link"], att["color"])
	}
}

// TestSlackBotToken posts to a channel with chat.postMessage, as Slack's
// Web API takes it: a bearer token, the channel in the body, and
// {"ok": false, "error": …} for a refusal.
func TestSlackBotToken(t *testing.T) {
	t.Parallel()
	api := newReceiver(t, func(w http.ResponseWriter, n int) {
		if n == 1 {
			io.WriteString(w, `{"ok": true, "channel": "C1", "ts": "1.2"}`)
			return
		}
		io.WriteString(w, `{"ok": false, "error": "channel_not_found"}`)
	})
	s := newSender(t, Config{Slack: SlackConfig{Token: "xoxb-test", APIURL: api.URL + "/api"}})
	if err := s.Send(context.Background(), failedMessage("slack", "#deploys")); err != nil {
		t.Fatal(err)
	}
	if api.paths[0] != "/api/chat.postMessage" || api.headers[0].Get("Authorization") != "Bearer xoxb-test" {
		t.Errorf("posted to %s with Authorization %q", api.paths[0], api.headers[0].Get("Authorization"))
	}
	if ch := api.got()[0]["channel"]; ch != "#deploys" {
		t.Errorf("channel = %v, want #deploys", ch)
	}
	err := s.Send(context.Background(), failedMessage("slack", "#nowhere"))
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") || !IsPermanent(err) {
		t.Errorf("Send to an unknown channel: %v (permanent %v), want a permanent channel_not_found", err, IsPermanent(err))
	}

	noToken := newSender(t, Config{})
	if err := noToken.Send(context.Background(), failedMessage("slack", "#deploys")); err == nil || !strings.Contains(err.Error(), "notifications.slack.token") {
		t.Errorf("Send to a channel without a token: %v, want it to name notifications.slack.token", err)
	}
}

// TestTeamsCard checks the MessageCard Echo's Teams agent posts.
func TestTeamsCard(t *testing.T) {
	t.Parallel()
	teams := newReceiver(t, func(w http.ResponseWriter, _ int) { io.WriteString(w, "1") })
	s := newSender(t, Config{})
	if err := s.Send(context.Background(), failedMessage("microsoftteams", teams.URL+"/webhookb2/abc")); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, teams.got()[0], `{
	  "@context": "http://schema.org/extensions",
	  "@type": "MessageCard",
	  "correlationId": "ex1/0",
	  "summary": "Shop's deploy <prod> pipeline has failed",
	  "themeColor": "EB1A1A",
	  "title": "Sluice Notification",
	  "sections": [{
	    "activityTitle": "Pipeline failed for SHOP",
	    "facts": [
	      {"name": "Application Name", "value": "shop"},
	      {"name": "Execution Name", "value": "deploy <prod>"},
	      {"name": "Pipeline Name", "value": "deploy <prod>"},
	      {"name": "Message", "value": "Page the *on-call* & check the dashboard"},
	      {"name": "Status", "value": "Failed"},
	      {"name": "Summary", "value": "Shop's deploy <prod> pipeline has failed"}
	    ],
	    "potentialAction": [{"@type": "OpenUri", "name": "Open in Sluice",
	      "targets": [{"os": "default", "uri": "https://sluice.example.com/executions/ex1"}]}]
	  }]
	}`)
}

// TestGoogleChat checks the Google Chat webhook message: text and a
// cardsV2 card.
func TestGoogleChat(t *testing.T) {
	t.Parallel()
	chat := newReceiver(t, func(w http.ResponseWriter, _ int) { io.WriteString(w, `{"name": "spaces/x/messages/y"}`) })
	s := newSender(t, Config{})
	if err := s.Send(context.Background(), judgmentMessage("googlechat", chat.URL+"/v1/spaces/x/messages?key=k&token=t")); err != nil {
		t.Fatal(err)
	}
	link := "https://sluice.example.com/executions/ex2#judgment-4"
	sameJSON(t, chat.got()[0], `{
	  "text": "Stage Promote? for Shop's release pipeline is awaiting manual judgment\nInstructions: Check the canary, then promote.\nCanary analysis (Canary analysis): score 97.5, result pass\n\n`+link+`",
	  "cardsV2": [{
	    "cardId": "sluice-manualJudgment",
	    "card": {
	      "header": {"title": "Manual judgment awaited for SHOP", "subtitle": "shop / release"},
	      "sections": [{"widgets": [
	        {"textParagraph": {"text": "Stage Promote? for Shop's release pipeline is awaiting manual judgment\nInstructions: Check the canary, then promote.\nCanary analysis (Canary analysis): score 97.5, result pass"}},
	        {"buttonList": {"buttons": [{"text": "Open in Sluice", "onClick": {"openLink": {"url": "`+link+`"}}}]}}
	      ]}]
	    }
	  }]
	}`)
}

// TestWebhook checks Sluice's generic webhook body: the event, the
// execution, the stage, the link, and not the address (which holds the
// receiver's secret).
func TestWebhook(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	s := newSender(t, Config{})
	m := judgmentMessage("webhook", hook.URL+"/hooks/secret-token")
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, hook.got()[0], `{
	  "delivery": "ex2/3", "event": "manualJudgment", "type": "webhook",
	  "application": "shop", "pipeline": "release",
	  "execution": {"id": "ex2", "status": "RUNNING", "user": "ci"},
	  "stage": {"id": "st9", "refId": "4", "name": "Promote?", "type": "manualJudgment", "status": "RUNNING"},
	  "judgment": {"instructions": "Check the canary, then promote."},
	  "canary": {"stage": "Canary analysis", "score": 97.5, "result": "pass"},
	  "time": "2026-12-07T03:04:05Z",
	  "title": "Manual judgment awaited for SHOP",
	  "summary": "Stage Promote? for Shop's release pipeline is awaiting manual judgment",
	  "link": "https://sluice.example.com/executions/ex2#judgment-4"
	}`)
	if h := hook.headers[0]; h.Get("X-Sluice-Event") != "manualJudgment" || h.Get("X-Sluice-Delivery") != "ex2/3" {
		t.Errorf("headers X-Sluice-Event %q, X-Sluice-Delivery %q", h.Get("X-Sluice-Event"), h.Get("X-Sluice-Delivery"))
	}
}

// TestReceiverErrors: a 4xx answer will not get better (permanent); a 5xx
// or 429 may (retried).
func TestReceiverErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code      int
		permanent bool
	}{{400, true}, {404, true}, {429, false}, {500, false}, {503, false}} {
		r := newReceiver(t, func(w http.ResponseWriter, _ int) { http.Error(w, "no_service", tt.code) })
		err := newSender(t, Config{}).Send(context.Background(), failedMessage("slack", r.URL+"/services/secret"))
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), "no_service") {
			t.Errorf("%d: error %v, permanent %v; want an error with the answer, permanent %v", tt.code, err, IsPermanent(err), tt.permanent)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%d: error %q shows the webhook URL's path", tt.code, err)
		}
	}
}

// TestAllowList: a host not on the list is refused before any connection,
// and so is a redirect to one.
func TestAllowList(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, nil)
	only, err := egress.NewPolicy(Setting, []string{"hooks.slack.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t, Config{AllowedHosts: only})
	err = s.Send(context.Background(), failedMessage("webhook", r.URL+"/x"))
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "notifications.allowedHosts") {
		t.Errorf("Send to a host not allowed: %v, want a permanent error naming notifications.allowedHosts", err)
	}
	if n := len(r.got()); n != 0 {
		t.Errorf("the receiver got %d posts, want none", n)
	}

	// Loopback is allowed; the redirect goes to a private address, which
	// is not.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "http://10.0.0.1:1/x", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	local, _ := egress.NewPolicy(Setting, []string{egress.Loopback})
	s = newSender(t, Config{AllowedHosts: local})
	url := redirector.URL + "/hook"
	if err := s.Send(context.Background(), failedMessage("webhook", url)); err == nil || !IsPermanent(err) {
		t.Errorf("Send redirected to a host not allowed: %v, want a permanent error", err)
	}
	if n := len(r.got()); n != 0 {
		t.Errorf("the redirect's target got %d posts, want none", n)
	}
}

// TestTimeout: a receiver that does not answer fails the delivery after
// the timeout, as one worth retrying.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	s := newSender(t, Config{Timeout: 200 * time.Millisecond})
	err := s.Send(context.Background(), failedMessage("webhook", slow.URL))
	if err == nil || IsPermanent(err) {
		t.Errorf("Send to a receiver that never answers: %v, want an error worth retrying", err)
	}
}
