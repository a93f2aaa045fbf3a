package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// EdgeRestoreTypeName is the rollback stage of the edge stages: it puts a
// distribution's Lambda@Edge associations back as an
// Aws.LambdaEdgeAssociationStage ($DIRECT) or a promotion recorded them.
const EdgeRestoreTypeName = "sluice.LambdaEdgeRestoreAssociations"

const taskEdgeRestore = "lambdaEdgeRestoreAssociations"

// edgeRestoreSpec is the fields of a sluice.LambdaEdgeRestoreAssociations
// stage: an edge stage's rollback:previousAssociations record.
//
//	account, region, functionName  as the recording stage resolved them
//	distributionId                 the distribution
//	behaviors                      [{pathPattern, associations: [{lambdaFunctionARN,
//	                               eventType, includeBody}]}]: each behavior's
//	                               associations are set to exactly these
//
// Only the Lambda@Edge associations of the recorded behaviors are put back;
// anything else changed since (by a promotion too) stays. The update is
// made with If-Match like the association's, then the task polls until the
// distribution is Deployed and verifies.
type edgeRestoreSpec struct {
	target
	DistributionID stage.StringField `json:"distributionId"`
	Behaviors      stage.JSONField   `json:"behaviors" hint:"the recorded behaviors: [{pathPattern, associations: [{lambdaFunctionARN, eventType, includeBody}]}]"`
}

func (s *edgeRestoreSpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Required(&s.DistributionID)
	c.Valid(&s.DistributionID, validDistributionID)
	c.Required(&s.Behaviors)
	if s.Behaviors.Set() {
		if _, err := parseEdgeBehaviors(s.Behaviors.Value); err != nil {
			c.Errorf(&s.Behaviors, "%v", err)
		}
	}
}

// functionTarget implements spec: the record holds the full function
// name, and the stage waits for CloudFront.
func (s *edgeRestoreSpec) functionTarget() *target {
	t := s.target
	t.fullName = true
	t.defaultWait = edgeWaitTimeoutSeconds * time.Second
	return &t
}

// parseEdgeBehaviors reads a behaviors record: a list of {pathPattern,
// associations}, each pattern once, each association with a
// lambdaFunctionARN, a known eventType (at most one per behavior) and
// includeBody only for request events.
func parseEdgeBehaviors(v any) ([]edgeBehavior, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("must be a list of {pathPattern, associations}: %v", err)
	}
	var out []edgeBehavior
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("must be a list of {pathPattern, associations: [{lambdaFunctionARN, eventType, includeBody}]}, as an edge stage records it: %v", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("is empty; the record names at least one behavior")
	}
	seen := map[string]bool{}
	for i, bh := range out {
		if strings.TrimSpace(bh.PathPattern) == "" {
			return nil, fmt.Errorf("[%d].pathPattern is required (* is the default behavior)", i)
		}
		if seen[bh.PathPattern] {
			return nil, fmt.Errorf("[%d].pathPattern %q is listed twice", i, bh.PathPattern)
		}
		seen[bh.PathPattern] = true
		events := map[string]bool{}
		for j, a := range bh.Associations {
			at := fmt.Sprintf("[%d].associations[%d]", i, j)
			switch a.EventType {
			case eventViewerRequest, eventOriginRequest:
			case eventViewerResponse, eventOriginResponse:
				if a.IncludeBody {
					return nil, fmt.Errorf("%s.includeBody can be true only for viewer-request and origin-request", at)
				}
			default:
				return nil, fmt.Errorf("%s.eventType must be viewer-request, viewer-response, origin-request or origin-response, not %q", at, a.EventType)
			}
			if events[a.EventType] {
				return nil, fmt.Errorf("%s: a behavior has one association per event type, and %s is listed twice", at, a.EventType)
			}
			events[a.EventType] = true
			if !strings.HasPrefix(a.LambdaFunctionARN, "arn:") {
				return nil, fmt.Errorf("%s.lambdaFunctionARN must be a function version ARN, not %q", at, a.LambdaFunctionARN)
			}
		}
	}
	return out, nil
}

// newEdgeRestoreType is sluice.LambdaEdgeRestoreAssociations.
func newEdgeRestoreType(b base) stage.Type {
	return &stageType[edgeRestoreSpec, *edgeRestoreSpec]{base: b, name: EdgeRestoreTypeName, tasks: []task[edgeRestoreSpec]{
		{name: taskEdgeRestore, run: edgeRestore},
		{name: taskEdgeWait, run: edgeRestoreWait},
	}}
}

func edgeRestore(ctx context.Context, _ *stage.Task, f *function, s *edgeRestoreSpec) (stage.Result, error) {
	rec, err := parseEdgeBehaviors(s.Behaviors.Value)
	if err != nil {
		return stage.Result{}, fail("behaviors %v", err)
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	id := strings.TrimSpace(s.DistributionID.Value)
	want := previousAssociations{Behaviors: rec}
	pats := make([]string, len(rec))
	for i, b := range rec {
		pats[i] = b.PathPattern
	}
	changed, err := setAssociations(ctx, f, cf, id, pats, func(p string, _ []edgeAssociation) []edgeAssociation {
		as, _ := want.behavior(p)
		return as
	}, nil)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"restoredAssociations": jsonValue(rec), "restoreChanged": changed}), nil
}

func edgeRestoreWait(ctx context.Context, _ *stage.Task, f *function, s *edgeRestoreSpec) (stage.Result, error) {
	rec, err := parseEdgeBehaviors(s.Behaviors.Value)
	if err != nil {
		return stage.Result{}, fail("behaviors %v", err)
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	id := strings.TrimSpace(s.DistributionID.Value)
	d, err := waitDeployed(ctx, f, cf, id)
	if err != nil {
		return stage.Result{}, err
	}
	for _, b := range rec {
		got, ok := behaviorAssociations(d.DistributionConfig, b.PathPattern)
		if !ok || !sameAssociations(got, b.Associations) {
			return stage.Result{}, fail("distribution %s is Deployed but its behavior %s has %s after restoring, not %s; another change may have raced with the restore",
				id, describePattern(b.PathPattern), describeAssociations(got), describeAssociations(b.Associations))
		}
	}
	return stage.Succeed(), nil
}
