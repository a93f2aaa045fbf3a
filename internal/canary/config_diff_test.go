package canary_test

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

func TestDiffConfigs(t *testing.T) {
	t.Parallel()
	old := `{"name":"c","configVersion":1.0,"metrics":[
		{"name":"errors","groups":["e"],"query":{"type":"sluice-local","metric":"errors"},"analysisConfigurations":{"canary":{"critical":false}}},
		{"name":"latency","groups":["l"],"query":{"type":"sluice-local","metric":"duration"}},
		{"name":"throttles","groups":["e"],"query":{"type":"sluice-local","metric":"throttles"}}],
		"classifier":{"groupWeights":{"e":50,"l":50}},"templates":{"t":"x"}}`
	// Metrics reordered (no change), one judged critically, one removed,
	// one added; a weight changed; a number respelled (no change); a
	// field set to null; an unknown field added.
	after := `{"name":"c","configVersion":1,"metrics":[
		{"name":"latency","groups":["l"],"query":{"type":"sluice-local","metric":"duration"}},
		{"name":"errors","groups":["e"],"query":{"type":"sluice-local","metric":"errors"},"analysisConfigurations":{"canary":{"critical":true}}},
		{"name":"invocations","groups":["e"],"query":{"type":"sluice-local","metric":"invocations"}}],
		"classifier":{"groupWeights":{"e":70,"l":30.0}},"templates":{"t":null},"owner":"me"}`
	changes, err := canary.DiffConfigs([]byte(old), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(changes))
	for i, c := range changes {
		got[i] = c.String()
	}
	want := []string{
		`classifier.groupWeights.e: 50 → 70`,
		`classifier.groupWeights.l: 50 → 30.0`,
		`metrics[1].analysisConfigurations.canary.critical: false → true`,
		`metrics[2]: added {"groups":["e"],"name":"invocations","query":{"metric":"invocations","type":"sluice-local"}}`,
		`metrics[2]: removed {"groups":["e"],"name":"throttles","query":{"metric":"throttles","type":"sluice-local"}}`,
		`owner: added "me"`,
		`templates.t: "x" → null`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if same, err := canary.DiffConfigs([]byte(old), []byte(old)); err != nil || len(same) != 0 {
		t.Errorf("a config against itself: %v, %v", same, err)
	}
	if _, err := canary.DiffConfigs([]byte(old), []byte(`[]`)); err == nil || !strings.Contains(err.Error(), "new config") {
		t.Errorf("diff against a list: error %v, want one naming the new config", err)
	}
}
