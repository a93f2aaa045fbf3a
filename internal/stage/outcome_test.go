package stage_test

import (
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

func TestOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		got   stage.Result
		want  status.Status
		retry time.Duration
		msg   string
	}{
		{"Succeed", stage.Succeed(), status.Succeeded, 0, ""},
		{"Fail", stage.Fail("functionName is required"), status.Terminal, 0, "functionName is required"},
		{"Failf", stage.Failf("version %d is gone", 3), status.Terminal, 0, "version 3 is gone"},
		{"RetryAfter", stage.RetryAfter(2 * time.Second), status.Running, 2 * time.Second, ""},
		{"RetryAfter 0 is not Wait", stage.RetryAfter(0), status.Running, time.Millisecond, ""},
		{"Wait", stage.Wait(), status.Running, 0, ""},
		{"Skip", stage.Skip(), status.Skipped, 0, ""},
	} {
		if tc.got.Status != tc.want || tc.got.RetryAfter != tc.retry || tc.got.Error != tc.msg {
			t.Errorf("%s = %+v, want status %s, RetryAfter %s, Error %q", tc.name, tc.got, tc.want, tc.retry, tc.msg)
		}
	}
}

func TestResultWith(t *testing.T) {
	t.Parallel()
	shared := map[string]any{"a": 1}
	first := stage.Succeed().WithOutputs(shared)
	second := first.WithOutputs(map[string]any{"b": 2}).WithContext(map[string]any{"c": 3})
	if len(shared) != 1 || len(first.Outputs) != 1 {
		t.Errorf("WithOutputs changed a map it was given or an earlier result: %v, %v", shared, first.Outputs)
	}
	if second.Outputs["a"] != 1 || second.Outputs["b"] != 2 || second.Context["c"] != 3 || second.Status != status.Succeeded {
		t.Errorf("chained result = %+v", second)
	}
	if r := stage.Fail("x").WithOutputs(nil); r.Outputs != nil {
		t.Errorf("WithOutputs(nil) = %v, want no outputs", r.Outputs)
	}
}
