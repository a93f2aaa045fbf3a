package lambda

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// eventSources is what a stage's triggerArns and event source mapping
// options ask for. A nil option is not managed: an existing mapping keeps
// its value.
type eventSources struct {
	arns []string // triggerArns; empty means "no mappings on the target"

	batchSize         *int32
	maxBatchingWindow *int32
	startingPosition  types.EventSourcePosition // streams, on create only; default LATEST
	bisect            *bool                     // streams
	maxRecordAge      *int32                    // streams
	maxRetries        *int32                    // streams
	parallelization   *int32                    // streams
	tumblingWindow    *int32                    // streams; -1 is "unset", as in the plugin
	onFailure         *string                   // streams: destinationConfig.onFailureArn
	onSuccess         *string                   // streams, as Clouddriver sends it (Lambda accepts it for Kafka only)
}

var triggerARNPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws[a-zA-Z-]*:[a-zA-Z0-9.-]+:[a-z0-9-]*:\d{12}:.+$`)
})

// eventSourceFields are the fields of event source mappings (Deploy,
// Route), as the plugin names them.
type eventSourceFields struct {
	TriggerArns           stage.StringsField `json:"triggerArns" hint:"ARNs of SQS queues, Kinesis streams or DynamoDB streams; absent or [] removes every mapping on the target, as Spinnaker (leaveAbsent keeps them)"`
	BatchSize             stage.IntField     `json:"batchsize" hint:"records per batch"`
	MaxBatchingWindowSecs stage.IntField     `json:"maxBatchingWindowSecs"`
	StartingPosition      stage.StringField  `json:"startingPosition" hint:"streams only"`
	BisectBatchOnError    stage.BoolField    `json:"bisectBatchOnError"`
	MaxRecordAgeSecs      stage.IntField     `json:"maxRecordAgeSecs"`
	MaxRetryAttempts      stage.IntField     `json:"maxRetryAttempts"`
	ParallelizationFactor stage.IntField     `json:"parallelizationFactor"`
	TumblingWindowSecs    stage.IntField     `json:"tumblingWindowSecs"`
	DestinationConfig     struct {
		stage.Field
		OnFailureArn stage.StringField `json:"onFailureArn"`
		OnSuccessArn stage.StringField `json:"onSuccessArn"`
	} `json:"destinationConfig"`
	// LeaveAbsent is Sluice's safer meaning of absent fields, opt-in:
	// Spinnaker deletes what an absent triggerArns,
	// reservedConcurrentExecutions (Deploy) or
	// provisionedConcurrentExecutions (Route) would manage; with
	// leaveAbsent they leave AWS as it is.
	LeaveAbsent stage.BoolField `json:"leaveAbsent" hint:"Sluice: absent triggerArns, reservedConcurrentExecutions (Deploy), provisionedConcurrentExecutions (Route) leave AWS as it is instead of deleting"`
}

func (s *eventSourceFields) check(c *stage.Checker) {
	for i, a := range s.TriggerArns.Value {
		if !triggerARNPattern().MatchString(a) {
			c.Add(stage.FieldError{Field: fmt.Sprintf("%s[%d]", s.TriggerArns.Path(), i),
				Msg: fmt.Sprintf("%q is not an ARN like arn:aws:sqs:us-east-1:123456789012:queue", a)})
		}
	}
	c.Range(&s.BatchSize, 1, 10000)
	c.Range(&s.MaxBatchingWindowSecs, 0, 300)
	c.OneOf(&s.StartingPosition, "LATEST", "TRIM_HORIZON")
	c.Range(&s.MaxRecordAgeSecs, -1, 604800)
	c.Range(&s.MaxRetryAttempts, -1, 10000)
	c.Range(&s.ParallelizationFactor, 1, 10)
	c.Range(&s.TumblingWindowSecs, -1, 900)
}

// manageEventSources reports whether the stage manages the target's
// mappings: always, as Orca's LambdaUpdateEventConfigurationTask does
// (absent triggerArns deletes every mapping on the target), unless
// leaveAbsent is set and triggerArns is absent or null.
func (s *eventSourceFields) manageEventSources() bool {
	return s.TriggerArns.Set() || s.TriggerArns.Expr() || !s.LeaveAbsent.Value
}

// eventSources is what the fields ask for: no mappings when triggerArns is
// absent or null (as Orca), nil when leaveAbsent says not to manage them.
func (s *eventSourceFields) eventSources() *eventSources {
	if !s.TriggerArns.Set() {
		if s.LeaveAbsent.Value {
			return nil
		}
		return &eventSources{}
	}
	es := &eventSources{
		arns:              dedupe(s.TriggerArns.Value),
		batchSize:         optInt32(&s.BatchSize),
		maxBatchingWindow: optInt32(&s.MaxBatchingWindowSecs),
		startingPosition:  types.EventSourcePosition(cmp.Or(s.StartingPosition.Value, "LATEST")),
		maxRecordAge:      optInt32(&s.MaxRecordAgeSecs),
		maxRetries:        optInt32(&s.MaxRetryAttempts),
		parallelization:   optInt32(&s.ParallelizationFactor),
		tumblingWindow:    optInt32(&s.TumblingWindowSecs),
	}
	if es.tumblingWindow != nil && *es.tumblingWindow < 0 {
		es.tumblingWindow = nil
	}
	if s.BisectBatchOnError.Set() {
		es.bisect = aws.Bool(s.BisectBatchOnError.Value)
	}
	if arn := s.DestinationConfig.OnFailureArn.Value; arn != "" {
		es.onFailure = aws.String(arn)
	}
	if arn := s.DestinationConfig.OnSuccessArn.Value; arn != "" {
		es.onSuccess = aws.String(arn)
	}
	return es
}

// isStream reports whether a source ARN is a Kinesis or DynamoDB stream,
// whose mappings take the stream options (any partition, unlike the
// plugin's "arn:aws:" test).
func isStream(arn string) bool {
	parts := strings.SplitN(arn, ":", 4)
	return len(parts) >= 3 && (parts[2] == "kinesis" || parts[2] == "dynamodb")
}

// mappingStable reports whether a mapping may be changed: AWS refuses
// changes while it is Creating, Updating, Enabling, Disabling or Deleting.
func mappingStable(m types.EventSourceMappingConfiguration) bool {
	s := aws.ToString(m.State)
	return s == "Enabled" || s == "Disabled" || s == ""
}

// reconcileEventSources makes the mappings on target — exactly that ARN:
// the unqualified function, or function:alias — match want, one pass per
// call. Mappings are matched by source ARN among the target's own mappings
// and changed or deleted by UUID; a mapping of the same source on another
// target (another alias, the function itself) is never touched. It
// returns the target's mappings by source ARN (UUIDs) when they match
// want and are all stable; otherwise it applies what differs and returns
// a notYet, so the next run verifies (a deletion is verified when the
// mapping is gone).
func reconcileEventSources(ctx context.Context, f *function, target string, want *eventSources) (map[string]string, error) {
	mine, err := listMappings(ctx, f, target)
	if err != nil {
		return nil, err
	}
	for _, m := range mine {
		if !mappingStable(m) {
			return nil, retry("waiting for event source mapping %s (%s → %s) to leave state %s",
				aws.ToString(m.UUID), aws.ToString(m.EventSourceArn), target, aws.ToString(m.State))
		}
	}
	d := want.diff(mine)
	changed := 0
	for _, m := range d.remove {
		src, id := aws.ToString(m.EventSourceArn), aws.ToString(m.UUID)
		if _, err := f.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil && !isNotFound(err) {
			return nil, apiError(f, fmt.Sprintf("DeleteEventSourceMapping %s (%s)", id, src), err)
		}
		changed++
	}
	for _, in := range d.update {
		if _, err := f.c.UpdateEventSourceMapping(ctx, in); err != nil {
			return nil, apiError(f, fmt.Sprintf("UpdateEventSourceMapping %s (%s)", aws.ToString(in.UUID), d.have[aws.ToString(in.UUID)]), err)
		}
		changed++
	}
	have := d.kept
	for _, src := range d.create {
		out, err := f.c.CreateEventSourceMapping(ctx, want.create(target, src))
		if err != nil {
			if other := mappedElsewhere(ctx, f, target, src); other != nil {
				return nil, other
			}
			return nil, apiError(f, fmt.Sprintf("CreateEventSourceMapping (%s → %s)", src, target), err)
		}
		have[src] = aws.ToString(out.UUID)
		changed++
	}
	if changed > 0 {
		return nil, retry("changed %d event source mapping(s) on %s; verifying", changed, target)
	}
	return have, nil
}

// listMappings lists the event source mappings of target (an unqualified
// function ARN or an alias ARN), ordered by UUID.
func listMappings(ctx context.Context, f *function, target string) ([]types.EventSourceMappingConfiguration, error) {
	var mine []types.EventSourceMappingConfiguration
	p := lambda.NewListEventSourceMappingsPaginator(f.c, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(target)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiError(f, "ListEventSourceMappings", err)
		}
		for _, m := range page.EventSourceMappings {
			if aws.ToString(m.FunctionArn) == target {
				mine = append(mine, m)
			}
		}
	}
	sort.Slice(mine, func(i, j int) bool { return aws.ToString(mine[i].UUID) < aws.ToString(mine[j].UUID) })
	return mine, nil
}

// mappingDiff is what brings a target's mappings to what a stage asks:
// the reconciliation applies it, a plan shows it.
type mappingDiff struct {
	remove []types.EventSourceMappingConfiguration // mappings of sources not asked for
	update []*lambda.UpdateEventSourceMappingInput // mappings whose options differ
	create []string                                // sources with no mapping yet
	kept   map[string]string                       // source ARN → UUID of the mappings that stay
	have   map[string]string                       // UUID → source ARN of every mapping
}

// diff compares mine, the target's mappings, with w.
func (w *eventSources) diff(mine []types.EventSourceMappingConfiguration) mappingDiff {
	wanted := map[string]bool{}
	for _, a := range w.arns {
		wanted[a] = true
	}
	d := mappingDiff{kept: map[string]string{}, have: map[string]string{}}
	for _, m := range mine {
		src, id := aws.ToString(m.EventSourceArn), aws.ToString(m.UUID)
		d.have[id] = src
		if !wanted[src] {
			d.remove = append(d.remove, m)
			continue
		}
		d.kept[src] = id
		if in := w.update(m); in != nil {
			d.update = append(d.update, in)
		}
	}
	for _, src := range w.arns {
		if _, ok := d.kept[src]; !ok {
			d.create = append(d.create, src)
		}
	}
	return d
}

// mappedElsewhere explains a refused CreateEventSourceMapping when source
// is already mapped to another target of the same function (AWS allows one
// mapping per source and function). That mapping is not this stage's to
// move or delete, so the stage fails naming it.
func mappedElsewhere(ctx context.Context, f *function, target, source string) error {
	out, err := f.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(source)})
	if err != nil {
		return nil
	}
	fn := unqualifiedARN(target)
	for _, m := range out.EventSourceMappings {
		other := aws.ToString(m.FunctionArn)
		if other != target && unqualifiedARN(other) == fn {
			return fail("triggerArns: %s is already mapped to %s (event source mapping %s), and Lambda allows one mapping of a source per function; "+
				"remove it from the stage that manages %s (or delete the mapping) before mapping it to %s",
				source, other, aws.ToString(m.UUID), other, target)
		}
	}
	return nil
}

// create is the CreateEventSourceMapping request for source on target.
func (w *eventSources) create(target, source string) *lambda.CreateEventSourceMappingInput {
	in := &lambda.CreateEventSourceMappingInput{
		FunctionName:                   aws.String(target),
		EventSourceArn:                 aws.String(source),
		Enabled:                        aws.Bool(true),
		BatchSize:                      w.batchSize,
		MaximumBatchingWindowInSeconds: w.maxBatchingWindow,
	}
	if isStream(source) {
		in.StartingPosition = w.startingPosition
		in.BisectBatchOnFunctionError = w.bisect
		in.MaximumRecordAgeInSeconds = w.maxRecordAge
		in.MaximumRetryAttempts = w.maxRetries
		in.ParallelizationFactor = w.parallelization
		in.TumblingWindowInSeconds = w.tumblingWindow
		in.DestinationConfig = w.destinations(nil)
	}
	return in
}

// destinations is the DestinationConfig w asks for on top of have (the
// mapping's), or nil when w sets neither destination. Clouddriver sends
// both as given: Lambda takes OnFailure for streams, and refuses OnSuccess
// but for Kafka, which the stage then reports.
func (w *eventSources) destinations(have *types.DestinationConfig) *types.DestinationConfig {
	if w.onFailure == nil && w.onSuccess == nil {
		return nil
	}
	d := &types.DestinationConfig{}
	if have != nil {
		d.OnFailure, d.OnSuccess = have.OnFailure, have.OnSuccess
	}
	if w.onFailure != nil {
		d.OnFailure = &types.OnFailure{Destination: w.onFailure}
	}
	if w.onSuccess != nil {
		d.OnSuccess = &types.OnSuccess{Destination: w.onSuccess}
	}
	return d
}

// update is the UpdateEventSourceMapping request that brings m to w, or
// nil when m already matches. Options w does not set are left alone.
func (w *eventSources) update(m types.EventSourceMappingConfiguration) *lambda.UpdateEventSourceMappingInput {
	in := &lambda.UpdateEventSourceMappingInput{UUID: m.UUID}
	diff := false
	setInt := func(want, have *int32, dst **int32) {
		if want != nil && aws.ToInt32(have) != *want {
			*dst, diff = want, true
		}
	}
	setInt(w.batchSize, m.BatchSize, &in.BatchSize)
	setInt(w.maxBatchingWindow, m.MaximumBatchingWindowInSeconds, &in.MaximumBatchingWindowInSeconds)
	if isStream(aws.ToString(m.EventSourceArn)) {
		setInt(w.maxRecordAge, m.MaximumRecordAgeInSeconds, &in.MaximumRecordAgeInSeconds)
		setInt(w.maxRetries, m.MaximumRetryAttempts, &in.MaximumRetryAttempts)
		setInt(w.parallelization, m.ParallelizationFactor, &in.ParallelizationFactor)
		setInt(w.tumblingWindow, m.TumblingWindowInSeconds, &in.TumblingWindowInSeconds)
		if w.bisect != nil && aws.ToBool(m.BisectBatchOnFunctionError) != *w.bisect {
			in.BisectBatchOnFunctionError, diff = w.bisect, true
		}
		var failure, success string
		if d := m.DestinationConfig; d != nil {
			if d.OnFailure != nil {
				failure = aws.ToString(d.OnFailure.Destination)
			}
			if d.OnSuccess != nil {
				success = aws.ToString(d.OnSuccess.Destination)
			}
		}
		if w.onFailure != nil && failure != *w.onFailure || w.onSuccess != nil && success != *w.onSuccess {
			in.DestinationConfig = w.destinations(m.DestinationConfig)
			diff = true
		}
	}
	if !diff {
		return nil
	}
	return in
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
