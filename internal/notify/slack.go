package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// slackMessage is the body of an incoming webhook post and of
// chat.postMessage (which adds the channel): a fallback text and one
// attachment with Echo's title, text and color (SlackAttachment).
type slackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Title     string   `json:"title"`
	TitleLink string   `json:"title_link,omitempty"`
	Text      string   `json:"text"`
	Fallback  string   `json:"fallback"`
	Color     string   `json:"color"`
	Footer    string   `json:"footer"`
	MrkdwnIn  []string `json:"mrkdwn_in"`
	Ts        int64    `json:"ts"`
}

// slackBody builds the message as Echo's SlackNotificationAgent does: the
// summary with the pipeline's name linking to the execution, the details,
// then the custom message.
func slackBody(m *Message, link string) slackMessage {
	name := slackEscape(m.Pipeline)
	if link != "" {
		name = "<" + link + "|" + name + ">"
	}
	lines := []string{slackEscape(m.summary("\x00"))}
	lines[0] = strings.Replace(lines[0], "\x00", name, 1)
	for _, d := range m.details() {
		lines = append(lines, slackEscape(d))
	}
	if m.Text != "" {
		lines = append(lines, "", slackEscape(m.Text))
	}
	if m.isJudgment() && m.Event == "manualJudgment" && link != "" {
		lines = append(lines, "", "<"+link+"|Judge it in Sluice>")
	}
	return slackMessage{
		Text: m.Title() + ": " + m.Summary(),
		Attachments: []slackAttachment{{
			Title:     m.Title(),
			TitleLink: link,
			Text:      strings.Join(lines, "\n"),
			Fallback:  m.PlainText(link),
			Color:     m.color(),
			Footer:    "Sluice",
			MrkdwnIn:  []string{"text"},
			Ts:        m.Time.Unix(),
		}},
	}
}

// slackEscape escapes the three characters Slack's text format reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slack posts to an incoming webhook when the address is a URL, and with
// chat.postMessage to the channel it names otherwise.
func (s *Sender) slack(ctx context.Context, m *Message, link string) error {
	body := slackBody(m, link)
	if strings.Contains(m.Address, "://") {
		return s.post(ctx, m, m.Address, body, nil, nil)
	}
	if s.cfg.Slack.Token == "" {
		return Permanent(fmt.Errorf("slack notification to %q: a channel needs a bot token (notifications.slack.token in sluice.yaml); or give an incoming webhook URL as the address", m.Address))
	}
	body.Channel = m.Address
	h := http.Header{"Authorization": {"Bearer " + s.cfg.Slack.Token}}
	return s.post(ctx, m, s.cfg.Slack.APIURL+"/chat.postMessage", body, h, func(_ int, answer []byte) error {
		// The Web API answers 200 with {"ok": false, "error": …} on failure.
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(answer, &r); err != nil {
			return fmt.Errorf("chat.postMessage: unreadable answer: %s", oneLine(answer))
		}
		if !r.OK {
			err := errors.New("chat.postMessage to " + m.Address + ": " + r.Error)
			switch r.Error {
			case "ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout":
				return err
			}
			return Permanent(err)
		}
		return nil
	})
}
