package lambda

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

// planEdge plans an Aws.LambdaEdgeAssociationStage: each behavior's
// association for the event type, before → after, with the version
// resolved and the Edge constraints checked as edgeCheck does them. A
// version a stage upstream would publish is checked when the stage runs.
func planEdge(ctx context.Context, in *stage.PlanInput, f *function, s *edgeSpec, p *apitype.StagePlan) error {
	if s.Version.Expr() || s.VersionNumber.Expr() || s.EventType.Expr() || s.DistributionID.Expr() ||
		s.CacheBehaviors.Expr() || s.DeploymentStrategy.Expr() {
		p.Action = apitype.PlanRunTime
		p.Summary = fmt.Sprintf("what the edge stage attaches is known only at run time: some of its fields are expressions (%s)", f)
		return nil
	}
	versions, by, published, err := plannedVersions(ctx, in, f)
	if err != nil {
		return err
	}
	sel, err := s.selector()
	if err != nil {
		return fail("version %v", err)
	}
	resolved, err := sel.Resolve(f.name, versions, true)
	if err != nil {
		return fail("version: %v", err)
	}
	v := resolved[0]
	var arn string
	if by != nil && v == published {
		p.Notes = append(p.Notes, fmt.Sprintf("version %s = %s; the Lambda@Edge constraints are checked on it when the stage runs", sel, describeVersion(v, by, published)))
		out, found, err := getFunction(ctx, f)
		if err != nil {
			return err
		}
		if found {
			arn = unqualifiedARN(aws.ToString(out.Configuration.FunctionArn)) + ":" + v
		} else {
			arn = f.name + ":" + v
		}
	} else {
		cfg, err := versionConfig(ctx, f, v)
		if err != nil {
			return err
		}
		if problems := edgeProblems(f, v, cfg, s.EventType.Value); len(problems) > 0 {
			return fail("version %s of %s cannot be attached to CloudFront as a %s function:\n- %s", v, f, s.EventType.Value, strings.Join(problems, "\n- "))
		}
		p.Notes = append(p.Notes, fmt.Sprintf("version %s = version %s; it meets the Lambda@Edge constraints for %s", sel, v, s.EventType.Value))
		arn = aws.ToString(cfg.FunctionArn)
	}
	cf, err := cloudFront(f)
	if err != nil {
		return err
	}
	id := s.distributionID()
	dc, err := readDistributionConfig(ctx, f, cf, id)
	if err != nil {
		return err
	}
	if err := checkBehaviors(dc.DistributionConfig, id, s.behaviors(), s.EventType.Value); err != nil {
		return err
	}
	want := edgeAssociation{LambdaFunctionARN: arn, EventType: s.EventType.Value, IncludeBody: s.IncludeBody.Value}
	staging := s.strategy() == edgeStaging
	for _, pat := range s.behaviors() {
		cur, _ := behaviorAssociations(dc.DistributionConfig, pat)
		var old any
		for _, a := range cur {
			if a.EventType == want.EventType {
				old = a.String()
			}
		}
		field := fmt.Sprintf("distribution %s behavior %s %s", id, describePattern(pat), want.EventType)
		kind := apitype.ChangeModify
		switch {
		case old == want.String() && !staging:
			kind = apitype.ChangeSame
		case old == nil:
			kind = apitype.ChangeAdd
		}
		note := ""
		if staging {
			field = "staging " + field
			note = "on the staging distribution; the primary is unchanged until an Aws.LambdaEdgePromoteStage promotes it"
		}
		change(p, kind, field, old, want.String(), note)
	}
	if staging {
		change(p, apitype.ChangeModify, fmt.Sprintf("distribution %s continuous-deployment policy", id), nil,
			"enabled: "+s.Staging.describe()+" to the staging distribution", "")
	}
	settle(p, fmt.Sprintf("attach %s to distribution %s", want, id))
	return nil
}
