package pipeline

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// Notification events: the values of a notification's "when", as Echo
// matches them (AbstractEventNotificationAgent: "<configType>.<status>"
// for pipelines and stages; Orca's manual judgment stage sends the
// manualJudgment* ones).
const (
	EventPipelineStarting       = "pipeline.starting"
	EventPipelineComplete       = "pipeline.complete"
	EventPipelineFailed         = "pipeline.failed"
	EventStageStarting          = "stage.starting"
	EventStageComplete          = "stage.complete"
	EventStageFailed            = "stage.failed"
	EventManualJudgment         = "manualJudgment"
	EventManualJudgmentContinue = "manualJudgmentContinue"
	EventManualJudgmentStop     = "manualJudgmentStop"
)

// Notification channels Sluice delivers to. "webhook" is Sluice's own;
// the others are Echo's notification types.
const (
	NotifySlack      = "slack"
	NotifyEmail      = "email"
	NotifyTeams      = "microsoftteams"
	NotifyGoogleChat = "googlechat"
	NotifyWebhook    = "webhook"
)

// notificationTypes are the channels Sluice delivers to.
var notificationTypes = []string{NotifyEmail, NotifyGoogleChat, NotifyTeams, NotifySlack, NotifyWebhook}

// undeliveredTypes are Echo's other notification types: a document may
// carry them (Validate warns), and Sluice sends nothing for them.
var undeliveredTypes = []string{"bearychat", "cdevents", "githubStatus", "jira", "pagerduty", "pubsub", "sms"}

var (
	pipelineEvents = []string{EventPipelineStarting, EventPipelineComplete, EventPipelineFailed}
	stageEvents    = []string{EventStageStarting, EventStageComplete, EventStageFailed}
	judgmentEvents = []string{EventManualJudgment, EventManualJudgmentContinue, EventManualJudgmentStop}
)

// Notification is one entry of a pipeline's, or a stage's,
// notifications: who hears of which events, how.
type Notification struct {
	Type    string
	Address string
	CC      string // email only: more recipients
	Level   string // "pipeline" or "stage", as Deck writes it; informative
	When    []string
	// Message is the custom text per event: message.<event>.text.
	Message map[string]string
}

// Fires reports whether the notification is sent for event.
func (n *Notification) Fires(event string) bool { return slices.Contains(n.When, event) }

// Delivered reports whether Sluice delivers notifications of n's type.
func (n *Notification) Delivered() bool { return slices.Contains(notificationTypes, n.Type) }

// NotificationLevel says where a list of notifications sits, which decides
// the events it may name.
type NotificationLevel int

const (
	// PipelineNotifications are the pipeline's: pipeline.* events.
	PipelineNotifications NotificationLevel = iota
	// StageNotifications are a stage's: stage.* events.
	StageNotifications
	// JudgmentNotifications are a manual judgment stage's: stage.* and
	// manualJudgment* events.
	JudgmentNotifications
)

func (l NotificationLevel) events() []string {
	switch l {
	case PipelineNotifications:
		return pipelineEvents
	case StageNotifications:
		return stageEvents
	}
	return slices.Concat(stageEvents, judgmentEvents)
}

// ParseNotifications reads a list of notifications (the value of a
// "notifications" key, as decoded) at level. It returns those it could
// read, and a problem, with its path under base, for each field that is
// wrong: an unknown type, a "when" that is not one of the level's events,
// a missing or malformed address. Entries of Echo's types that Sluice
// does not deliver are returned as they are (Delivered is false).
func ParseNotifications(base string, raw any, level NotificationLevel) ([]Notification, []Problem) {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		if ms, isMaps := raw.([]map[string]any); isMaps {
			for _, m := range ms {
				list = append(list, m)
			}
		} else {
			add(base, "must be a list of notifications, got %s", describe(raw))
			return nil, probs
		}
	}
	var out []Notification
	for i, item := range list {
		path := fmt.Sprintf("%s[%d]", base, i)
		m, ok := item.(map[string]any)
		if !ok {
			add(path, `must be an object like {"type": "slack", "address": "#deploys", "when": ["pipeline.failed"]}, got %s`, describe(item))
			continue
		}
		n, p := parseNotification(path, m, level)
		probs = append(probs, p...)
		if len(p) == 0 {
			out = append(out, n)
		}
	}
	return out, probs
}

func parseNotification(path string, m map[string]any, level NotificationLevel) (Notification, []Problem) {
	var probs []Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, Problem{Path: jsondoc.JoinKey(path, key), Msg: fmt.Sprintf(format, args...)})
	}
	addAt := func(key string, i int, format string, args ...any) {
		probs = append(probs, Problem{Path: fmt.Sprintf("%s[%d]", jsondoc.JoinKey(path, key), i), Msg: fmt.Sprintf(format, args...)})
	}
	var n Notification
	wrongType := map[string]bool{}
	str := func(key string) string {
		v, present := m[key]
		s, ok := v.(string)
		if present && v != nil && !ok {
			add(key, "must be a string, got %s", describe(v))
			wrongType[key] = true
		}
		return strings.TrimSpace(s)
	}
	n.Type, n.Address, n.CC, n.Level = str("type"), str("address"), str("cc"), str("level")
	known := slices.Concat(notificationTypes, undeliveredTypes)
	switch {
	case wrongType["type"]:
	case n.Type == "":
		add("type", "missing notification type; set it to one of %s", strings.Join(notificationTypes, ", "))
	case !slices.Contains(known, n.Type):
		msg := fmt.Sprintf("unknown notification type %q; Sluice delivers %s", n.Type, strings.Join(notificationTypes, ", "))
		if near := nearest(n.Type, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		add("type", "%s", msg)
	}
	if n.Delivered() && !wrongType["address"] {
		checkAddress(n.Type, n.Address, func(format string, args ...any) { add("address", format, args...) })
	}

	allowed := level.events()
	listed := 0 // entries of when, whatever their type
	switch w := m["when"].(type) {
	case string:
		n.When, listed = []string{w}, 1
	case []any:
		listed = len(w)
		for j, e := range w {
			s, ok := e.(string)
			if !ok {
				addAt("when", j, "must be a string, got %s", describe(e))
				continue
			}
			n.When = append(n.When, s)
		}
	case nil:
	default:
		add("when", "must be a list of events, got %s", describe(m["when"]))
		listed = -1
	}
	if listed == 0 {
		add("when", "missing: list the events to notify of, from %s", strings.Join(allowed, ", "))
	}
	for j, e := range n.When {
		if !slices.Contains(allowed, e) {
			addAt("when", j, "%q is not an event of %s; use one of %s", e, levelName(level), strings.Join(allowed, ", "))
		}
	}

	switch msg := m["message"].(type) {
	case nil:
	case map[string]any:
		for _, ev := range slices.Sorted(maps.Keys(msg)) {
			key := jsondoc.JoinKey(jsondoc.JoinKey(path, "message"), ev)
			body, ok := msg[ev].(map[string]any)
			if !ok {
				probs = append(probs, Problem{Path: key, Msg: fmt.Sprintf(`must be an object like {"text": "…"}, got %s`, describe(msg[ev]))})
				continue
			}
			text, ok := body["text"].(string)
			if body["text"] != nil && !ok {
				probs = append(probs, Problem{Path: jsondoc.JoinKey(key, "text"), Msg: fmt.Sprintf("must be a string, got %s", describe(body["text"]))})
				continue
			}
			if !slices.Contains(allowed, ev) {
				probs = append(probs, Problem{Path: key, Msg: fmt.Sprintf("%q is not an event of %s; a custom message is keyed by one of %s", ev, levelName(level), strings.Join(allowed, ", "))})
				continue
			}
			if text != "" {
				if n.Message == nil {
					n.Message = map[string]string{}
				}
				n.Message[ev] = text
			}
		}
	default:
		add("message", `must be an object like {"pipeline.failed": {"text": "…"}}, got %s`, describe(m["message"]))
	}
	return n, probs
}

func levelName(l NotificationLevel) string {
	switch l {
	case PipelineNotifications:
		return "a pipeline"
	case StageNotifications:
		return "a stage (a manual judgment stage also has manualJudgment, manualJudgmentContinue, manualJudgmentStop)"
	}
	return "a manual judgment stage"
}

// checkAddress checks a notification's address for its type. An address
// with an expression is checked when it is sent.
func checkAddress(typ, addr string, bad func(format string, args ...any)) {
	if strings.Contains(addr, "${") {
		return
	}
	if addr == "" {
		switch typ {
		case NotifyEmail:
			bad("missing: the email address (or addresses, comma-separated) to send to")
		case NotifySlack:
			bad("missing: a Slack incoming webhook URL, or a channel (#deploys) when notifications.slack.token is configured")
		default:
			bad("missing: the %s webhook URL to post to", typ)
		}
		return
	}
	isURL := func() bool {
		u, err := url.Parse(addr)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	switch typ {
	case NotifyEmail:
		for _, a := range strings.Split(addr, ",") {
			a = strings.TrimSpace(a)
			if at := strings.LastIndex(a, "@"); at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " <>\r\n") {
				bad("%q is not an email address", a)
				return
			}
		}
	case NotifySlack:
		if strings.Contains(addr, "://") && !isURL() {
			bad("%q is not an http:// or https:// URL", addr)
		} else if strings.ContainsAny(addr, " \r\n") {
			bad("%q is neither a webhook URL nor a channel name", addr)
		}
	default:
		if !isURL() {
			bad("%q is not an http:// or https:// webhook URL", addr)
		}
	}
}

// notificationFields are the keys of a notification. notifyEveryMs asks
// for a judgment reminder Sluice does not send.
var notificationFields = &KnownFields{
	Keys: keys("type", "address", "cc", "level", "when", "message"),
	Ignored: map[string]string{
		"notifyEveryMs": "Sluice notifies once when the judgment starts waiting, and does not remind",
	},
}

// notifications checks the pipeline's notifications and each stage's.
func (v *validator) notifications(p *Pipeline) {
	if p.Notifications != nil {
		list := make([]any, len(p.Notifications))
		for i, m := range p.Notifications {
			list[i] = m
		}
		_, probs := ParseNotifications("notifications", list, PipelineNotifications)
		v.problems = append(v.problems, probs...)
	}
	for i, s := range p.Stages {
		path := fmt.Sprintf("stages[%d]", i)
		if send := s.Fields["sendNotifications"]; !isBoolOrNull(send) {
			v.add(path+".sendNotifications", "must be true or false, got %s", describe(send))
		}
		if raw := s.Fields["notifications"]; raw != nil {
			_, probs := ParseNotifications(path+".notifications", raw, stageLevel(s))
			v.problems = append(v.problems, probs...)
		}
	}
}

func stageLevel(s *Stage) NotificationLevel {
	if s.Type == "manualJudgment" {
		return JudgmentNotifications
	}
	return StageNotifications
}

// notificationWarnings warns about the notifications at path (of stage s;
// nil for the pipeline's) that will not be sent: of a type Sluice does not
// deliver, or on a stage without sendNotifications.
func (v *validator) notificationWarnings(path string, raw any, s *Stage) {
	list, _ := raw.([]any)
	for i, item := range list {
		m, _ := item.(map[string]any)
		t, _ := m["type"].(string)
		if slices.Contains(undeliveredTypes, t) {
			v.warn(KindIgnored, fmt.Sprintf("%s[%d].type", path, i), "kept, not acted on: Sluice does not deliver %s notifications; it delivers %s", t, strings.Join(notificationTypes, ", "))
		}
	}
	if s == nil || raw == nil {
		return
	}
	ns, _ := ParseNotifications(path, raw, stageLevel(s))
	if len(ns) > 0 && s.Fields["sendNotifications"] != true {
		v.warn(KindIgnored, strings.TrimSuffix(path, "notifications")+"sendNotifications", "the stage's notifications are not sent: as in Spinnaker, set sendNotifications to true to send them")
	}
}
