package notify

import (
	"strings"
)

// teamsCard is the MessageCard Echo's MicrosoftTeamsNotificationAgent
// posts to a Teams incoming webhook: title, summary, a theme color, one
// section of facts and an OpenUri action to the execution.
func teamsCard(m *Message, link string) map[string]any {
	type fact struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	var facts []fact
	add := func(name, value string) {
		if value != "" {
			facts = append(facts, fact{name, value})
		}
	}
	add("Application Name", m.Application)
	add("Execution Name", m.Pipeline)
	if m.Stage != nil {
		add("Stage Name", m.Stage.Name)
	} else {
		add("Pipeline Name", m.Pipeline)
	}
	add("Message", m.Text)
	add("Status", capitalize(m.status()))
	add("Summary", m.Summary())
	for _, d := range m.details() {
		name, value, _ := strings.Cut(d, ": ")
		add(name, value)
	}
	color := "0076D7"
	switch m.status() {
	case "failed":
		color = "EB1A1A"
	case "complete":
		color = "73DB69"
	}
	kind := "pipeline"
	if m.Stage != nil {
		kind = "stage"
	}
	section := map[string]any{
		"activityTitle": strings.TrimSpace(capitalize(kind) + " " + m.status() + " for " + strings.ToUpper(m.Application)),
		"facts":         facts,
	}
	if link != "" {
		section["potentialAction"] = []any{map[string]any{
			"@type": "OpenUri", "name": "Open in Sluice",
			"targets": []any{map[string]any{"os": "default", "uri": link}},
		}}
	}
	return map[string]any{
		"@context":      "http://schema.org/extensions",
		"@type":         "MessageCard",
		"correlationId": m.Delivery,
		"summary":       m.Summary(),
		"themeColor":    color,
		"title":         "Sluice Notification",
		"sections":      []any{section},
	}
}

// googleChatMessage is a Google Chat incoming webhook message: the text,
// and a card (cardsV2) with the title, the details and a button to the
// execution.
func googleChatMessage(m *Message, link string) map[string]any {
	widgets := []any{map[string]any{"textParagraph": map[string]any{"text": chatEscape(strings.Join(append([]string{m.Summary()}, m.details()...), "\n"))}}}
	if m.Text != "" {
		widgets = append(widgets, map[string]any{"textParagraph": map[string]any{"text": chatEscape(m.Text)}})
	}
	if link != "" {
		widgets = append(widgets, map[string]any{"buttonList": map[string]any{"buttons": []any{map[string]any{
			"text": "Open in Sluice", "onClick": map[string]any{"openLink": map[string]any{"url": link}},
		}}}})
	}
	return map[string]any{
		"text": m.PlainText(link),
		"cardsV2": []any{map[string]any{
			"cardId": "sluice-" + m.Event,
			"card": map[string]any{
				"header":   map[string]any{"title": m.Title(), "subtitle": m.Application + " / " + m.Pipeline},
				"sections": []any{map[string]any{"widgets": widgets}},
			},
		}},
	}
}

// chatEscape escapes the HTML that Google Chat's textParagraph renders.
func chatEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// webhookBody is Sluice's own webhook notification: the message's fields
// (delivery, event, application, pipeline, execution, stage, judgment,
// canary, text, time) with the sentence and the link.
func webhookBody(m *Message, link string) any {
	return struct {
		*Message
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Link    string `json:"link,omitempty"`
		// Address is left out: it is where this body goes.
		Address string `json:"address,omitempty"`
	}{Message: m, Title: m.Title(), Summary: m.Summary(), Link: link}
}
