package webhook

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// TypeName is the pipeline "type" of the webhook stage.
const TypeName = "webhook"

// The tasks of a webhook stage, named as Orca's.
const (
	taskCreate  = "createWebhook"
	taskWait    = "waitBeforeMonitorWebhook"
	taskMonitor = "monitorWebhook"
)

// Orca's task timings: createWebhook tries again every 10 seconds for 5
// minutes; monitorWebhook polls every second, every 15 after its first
// minute, for an hour unless the stage sets stageTimeoutMs.
const (
	defaultCreateBackoff  = 10 * time.Second
	createTimeout         = 5 * time.Minute
	defaultMonitorBackoff = time.Second
	slowMonitorBackoff    = 15 * time.Second
	slowAfter             = time.Minute
	monitorTimeout        = time.Hour
)

// Options configure the webhook stage type. The zero value allows only
// loopback destinations, with Orca's timeouts.
type Options struct {
	// AllowedHosts is webhooks.allowedHosts from sluice.yaml (see
	// egress.Policy).
	AllowedHosts []string
	// ConnectTimeout bounds a connection (15s when zero); ReadTimeout the
	// wait for a response's headers (20s when zero). A whole request,
	// body included, gets ConnectTimeout plus twice ReadTimeout.
	ConnectTimeout, ReadTimeout time.Duration
	// MaxResponseBytes bounds a response body (1 MiB when zero): what a
	// stage keeps in its context, which the store writes.
	MaxResponseBytes int64
	// CreateBackoff is how long createWebhook waits before calling again
	// after a status it retries (10s when zero, Orca's). MonitorBackoff is
	// monitorWebhook's poll interval in its first minute (1s when zero;
	// then 15s). Tests shorten them.
	CreateBackoff, MonitorBackoff time.Duration
	// Resolver resolves host names; nil is the system's. Whatever it
	// answers, the dialed address is checked.
	Resolver *net.Resolver
}

// Setting is where the stage's allow-list comes from, named in refusals.
var Setting = egress.Setting{Key: "webhooks.allowedHosts", Doc: "docs/webhooks.md"}

// Type is the webhook stage type.
type Type struct {
	opts   Options
	client *client
}

// New returns the webhook stage type; an error names the bad
// allowedHosts entry.
func New(opts Options) (*Type, error) {
	p, err := egress.NewPolicy(Setting, opts.AllowedHosts)
	if err != nil {
		return nil, err
	}
	return &Type{opts: opts, client: newClient(p, opts)}, nil
}

func (*Type) Name() string { return TypeName }

// KnownFields implements stage.FieldDeclarer: the Spec's keys, what the
// stage itself writes into its context, and the keys Sluice keeps
// without acting on.
func (*Type) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(&Spec{})
	// Written by createWebhook and monitorWebhook (Orca's outputs).
	k.Keys["webhook"] = nil
	k.Ignored = map[string]string{
		"expectedArtifacts": "Sluice does not bind artifacts from a webhook's response yet (issue 13); the response body is in the stage context as webhook.body",
		"waitTime":          "Sluice waits waitBeforeMonitor seconds before the first status check; waitTime is what Orca copies it to",
	}
	return k
}

func (*Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

// Tasks are Orca's: createWebhook unless monitorOnly; then, when
// waitForCompletion, waitBeforeMonitorWebhook when waitBeforeMonitor is
// set, and monitorWebhook.
func (*Type) Tasks(ctx map[string]any) []string {
	var s Spec
	_ = stage.Decode(ctx, &s) // Run reports what is wrong
	var tasks []string
	if !s.MonitorOnly.Value {
		tasks = append(tasks, taskCreate)
	}
	if s.WaitForCompletion.Value {
		if s.WaitBeforeMonitor.Value > 0 {
			tasks = append(tasks, taskWait)
		}
		tasks = append(tasks, taskMonitor)
	}
	if len(tasks) == 0 {
		tasks = append(tasks, taskCreate) // monitorOnly without waitForCompletion: Run says why not
	}
	return tasks
}

func (w *Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	switch t.Name {
	case taskCreate:
		return w.create(ctx, t, &s)
	case taskWait:
		left := t.TaskStartTime.Add(time.Duration(s.WaitBeforeMonitor.Value) * time.Second).Sub(t.Now)
		if left <= 0 {
			return stage.Succeed(), nil
		}
		return stage.RetryAfter(left), nil
	case taskMonitor:
		return w.monitor(ctx, t, &s)
	}
	return stage.Result{}, fmt.Errorf("unknown task %q", t.Name)
}

var (
	_ stage.Type          = (*Type)(nil)
	_ stage.FieldDeclarer = (*Type)(nil)
	_ stage.Canceler      = (*Type)(nil)
	_ stage.Spec          = (*Spec)(nil)
)

// Loopback returns the webhook stage type of the zero Options: it may call
// only loopback addresses.
func Loopback() *Type {
	t, err := New(Options{})
	if err != nil {
		panic(err) // no entries cannot be wrong
	}
	return t
}
