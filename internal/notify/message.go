package notify

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// Message is one notification to deliver: what happened, to whom, how.
// It is stored in the delivery job, so it carries everything the text
// needs.
type Message struct {
	// Delivery names this delivery, the same on every attempt:
	// "<execution ID>/<n>". Receivers may use it to drop a repeat
	// (X-Sluice-Delivery, the email's Message-ID).
	Delivery string `json:"delivery"`
	// Event is the notification event: pipeline.starting, stage.failed,
	// manualJudgment, … (pipeline.Event*).
	Event   string `json:"event"`
	Type    string `json:"type"` // slack, email, microsoftteams, googlechat, webhook
	Address string `json:"address"`
	CC      string `json:"cc,omitempty"`

	Application string    `json:"application"`
	Pipeline    string    `json:"pipeline"`
	Execution   Execution `json:"execution"`
	Stage       *Stage    `json:"stage,omitempty"`
	// Text is the notification's custom message for the event.
	Text     string    `json:"text,omitempty"`
	Judgment *Judgment `json:"judgment,omitempty"`
	// Canary is the evidence of the canary analysis upstream of a
	// judgment, when there is one.
	Canary *Canary   `json:"canary,omitempty"`
	Time   time.Time `json:"time"`
}

// Execution is what a message tells of the execution.
type Execution struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	User      string `json:"user,omitempty"`
	StartTime int64  `json:"startTime,omitempty"` // epoch ms
	EndTime   int64  `json:"endTime,omitempty"`
}

// Stage is what a message tells of the stage of a stage event.
type Stage struct {
	ID     string `json:"id"`
	RefID  string `json:"refId"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Judgment is the manual judgment of a judgment event: its instructions
// while it waits, its decision once made.
type Judgment struct {
	Instructions string `json:"instructions,omitempty"`
	Status       string `json:"status,omitempty"` // continue or stop
	Input        string `json:"input,omitempty"`
	User         string `json:"user,omitempty"`
}

// Canary is a canary analysis's verdict: a kayentaCanary stage's
// canaryScore and canaryResult, or the last judged step of a progressive
// shift.
type Canary struct {
	Stage   string   `json:"stage"`
	Score   *float64 `json:"score,omitempty"`
	Result  string   `json:"result,omitempty"`
	Message string   `json:"message,omitempty"`
}

// status is Echo's word for the event: starting, complete or failed.
func (m *Message) status() string {
	switch m.Event {
	case pipeline.EventManualJudgment:
		return "starting"
	case pipeline.EventManualJudgmentContinue:
		return "complete"
	case pipeline.EventManualJudgmentStop:
		return "failed"
	}
	_, s, _ := strings.Cut(m.Event, ".")
	return s
}

func (m *Message) isJudgment() bool { return strings.HasPrefix(m.Event, "manualJudgment") }

// Title is Echo's title: "Pipeline complete for MYAPP"; for a judgment,
// "Manual judgment for MYAPP" and the decision.
func (m *Message) Title() string {
	app := strings.ToUpper(m.Application)
	switch m.Event {
	case pipeline.EventManualJudgment:
		return "Manual judgment awaited for " + app
	case pipeline.EventManualJudgmentContinue:
		return "Manual judgment continued for " + app
	case pipeline.EventManualJudgmentStop:
		return "Manual judgment stopped for " + app
	}
	kind, status, _ := strings.Cut(m.Event, ".")
	return capitalize(kind) + " " + status + " for " + app
}

// Summary is the one sentence Echo says: "Myapp's deploy pipeline has
// completed successfully". name formats the pipeline's name (a link in
// Slack).
func (m *Message) summary(name string) string {
	var b strings.Builder
	if m.Stage != nil {
		fmt.Fprintf(&b, "Stage %s for ", m.Stage.Name)
	}
	fmt.Fprintf(&b, "%s's %s pipeline ", capitalize(m.Application), name)
	switch m.Event {
	case pipeline.EventManualJudgment:
		b.WriteString("is awaiting manual judgment")
	case pipeline.EventManualJudgmentContinue, pipeline.EventManualJudgmentStop:
		decision := "continue"
		if m.Event == pipeline.EventManualJudgmentStop {
			decision = "stop"
		}
		b.WriteString("was judged to " + decision)
		if m.Judgment != nil && m.Judgment.User != "" {
			b.WriteString(" by " + m.Judgment.User)
		}
		if m.Judgment != nil && m.Judgment.Input != "" {
			fmt.Fprintf(&b, " (input %q)", m.Judgment.Input)
		}
	default:
		switch m.status() {
		case "starting":
			b.WriteString("is starting")
		case "complete":
			b.WriteString("has completed successfully")
		default:
			b.WriteString("has " + m.status())
		}
	}
	return b.String()
}

// Summary is the message's sentence in plain text.
func (m *Message) Summary() string { return m.summary(m.Pipeline) }

// details are the lines after the summary, in plain text: the stage's
// error, the judgment's instructions, the canary evidence.
func (m *Message) details() []string {
	var out []string
	if m.Stage != nil && m.Stage.Error != "" {
		out = append(out, "Error: "+m.Stage.Error)
	}
	if m.Judgment != nil && m.Judgment.Instructions != "" && m.Event == pipeline.EventManualJudgment {
		out = append(out, "Instructions: "+m.Judgment.Instructions)
	}
	if c := m.Canary; c != nil {
		out = append(out, "Canary analysis ("+c.Stage+"): "+c.Verdict())
	}
	return out
}

// Verdict says the canary's score and result in words.
func (c *Canary) Verdict() string {
	var parts []string
	if c.Score != nil {
		parts = append(parts, "score "+strconv.FormatFloat(*c.Score, 'f', -1, 64))
	}
	if c.Result != "" {
		parts = append(parts, "result "+c.Result)
	}
	if len(parts) == 0 {
		parts = append(parts, "no verdict yet")
	}
	s := strings.Join(parts, ", ")
	if c.Message != "" {
		s += " — " + c.Message
	}
	return s
}

// PlainText is the whole message as text: summary, details, custom
// message, link.
func (m *Message) PlainText(link string) string {
	lines := append([]string{m.Summary()}, m.details()...)
	if m.Text != "" {
		lines = append(lines, "", m.Text)
	}
	if link != "" {
		lines = append(lines, "", link)
	}
	return strings.Join(lines, "\n")
}

// Link is the console page of the message: the execution's, at the
// judgment's form for a judgment. base is the server's external URL.
func (m *Message) Link(base string) string {
	if base == "" {
		return ""
	}
	link := strings.TrimRight(base, "/") + "/executions/" + url.PathEscape(m.Execution.ID)
	if m.isJudgment() && m.Stage != nil {
		link += "#judgment-" + url.PathEscape(m.Stage.RefID)
	}
	return link
}

// color is Echo's Slack color for the event.
func (m *Message) color() string {
	switch m.status() {
	case "failed":
		return "#B82525"
	case "starting":
		return "#2275B8"
	case "complete":
		return "#769D3E"
	}
	return "#CCCCCC"
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
