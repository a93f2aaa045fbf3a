package stage_test

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// checkURL is a stage type written the way every stage type is: its fields
// decode once into a Spec, and its task returns an outcome.
type checkURL struct {
	get func(url string) (status int, err error)
}

// checkURLSpec is checkURL's fields.
type checkURLSpec struct {
	URL            stage.StringField `json:"url" hint:"the URL to check"`
	ExpectedStatus stage.IntField    `json:"expectedStatus" hint:"default 200"`
}

func (s *checkURLSpec) Check(c *stage.Checker) {
	c.Required(&s.URL)
	c.Range(&s.ExpectedStatus, 100, 599)
}

func (checkURL) Name() string { return "checkURL" }

func (checkURL) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &checkURLSpec{})
}

func (checkURL) Tasks(map[string]any) []string { return []string{"check"} }

func (c checkURL) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	var s checkURLSpec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	want := int(cmp.Or(s.ExpectedStatus.Value, 200))
	got, err := c.get(s.URL.Value)
	switch {
	case err != nil:
		return stage.RetryAfter(5 * time.Second).WithContext(map[string]any{"lastError": err.Error()}), nil
	case got != want:
		return stage.Failf("%s answered %d, not %d", s.URL.Value, got, want), nil
	}
	return stage.Succeed().WithOutputs(map[string]any{"status": got}), nil
}

func Example() {
	typ := checkURL{get: func(string) (int, error) { return 503, nil }}

	// When the pipeline is saved: every problem, each naming its field.
	// An expression is checked once it is evaluated.
	fmt.Println(typ.Validate(map[string]any{"expectedStatus": "99"}))
	fmt.Println(typ.Validate(map[string]any{"url": "${trigger.url}", "expectedStatus": "204"}))

	// When the task runs: an outcome.
	res, _ := typ.Run(context.Background(), &stage.Task{Name: "check", Context: map[string]any{"url": "https://example.com/health"}})
	fmt.Println(res.Status, res.Error)
	// Output:
	// [expectedStatus: must be at least 100, not 99 (default 200) url: is required (the URL to check)]
	// []
	// TERMINAL https://example.com/health answered 503, not 200
}

var (
	_ stage.Type = checkURL{}
	_ stage.Spec = (*checkURLSpec)(nil)
)
