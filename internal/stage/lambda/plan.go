package lambda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

// A Lambda stage's plan reads what its run would read — the function, its
// versions, aliases and event source mappings, through the same clients —
// and computes the difference with the same functions the run applies
// (configUpdate, tagChanges, concurrencyChange, codeMatches, the
// mappings' diff, Selector.Resolve), so that plan and run cannot disagree.
// It sends nothing that changes AWS.

// planFunc plans one stage whose fields decode into S, on function f; it
// fills p (whose Target, RunTime and identity are set).
type planFunc[S any] func(ctx context.Context, in *stage.PlanInput, f *function, s *S, p *apitype.StagePlan) error

// Plan implements stage.Planner for every Lambda stage type.
func (st *stageType[S, P]) Plan(ctx context.Context, in *stage.PlanInput) apitype.StagePlan {
	p := apitype.StagePlan{RefID: in.RefID, Name: in.Name, Type: st.name}
	s := new(S)
	if errs := stage.Validate(in.Context, P(s)); len(errs) > 0 {
		p.Action, p.Error = apitype.PlanError, stage.FieldErrors(errs).Error()
		p.Summary = "a run would fail: " + p.Error
		return p
	}
	tg := P(s).functionTarget()
	for _, fld := range []*stage.Field{&tg.Account.Field, &tg.Region.Field, &tg.FunctionName.Field} {
		if fld.Expr() {
			p.Action = apitype.PlanRunTime
			p.Summary = fmt.Sprintf("the function is known only at run time (%s is an expression)", fld.Path())
			return p
		}
	}
	f, err := st.function(in.Application, tg)
	if err != nil {
		p.Action, p.Error = apitype.PlanError, err.Error()
		p.Summary = "a run would fail: " + p.Error
		return p
	}
	p.Target = f.String()
	if st.plan == nil {
		p.Action = apitype.PlanRunTime
		p.Summary = "what this stage changes is known only at run time"
		return p
	}
	if err := st.plan(ctx, in, f, s, &p); err != nil {
		p.Action, p.Error = apitype.PlanError, err.Error()
		p.Summary = "the plan could not be made: " + p.Error
	}
	return p
}

// change appends one change to p.
func change(p *apitype.StagePlan, kind, field string, old, new any, note string) {
	p.Changes = append(p.Changes, apitype.PlanChange{Kind: kind, Field: field, Old: old, New: new, Note: note})
}

// settle sets p's Action from its changes when the planner left it.
func settle(p *apitype.StagePlan, summary string) {
	if p.Action == "" {
		p.Action = apitype.PlanNoChange
		for _, c := range p.Changes {
			if c.Kind != apitype.ChangeSame {
				p.Action = apitype.PlanUpdate
				break
			}
		}
	}
	if p.Summary == "" {
		p.Summary = summary
	}
}

// upstreamPublish finds the nearest stage upstream that would publish a
// version of f.
func upstreamPublish(in *stage.PlanInput, f *function) *apitype.StagePlan {
	for i := len(in.Upstream) - 1; i >= 0; i-- {
		u := &in.Upstream[i]
		if pub := u.Publishes; pub != nil && pub.Function == f.name && pub.Account == f.acct.Name && pub.Region == f.acct.Region {
			return u
		}
	}
	return nil
}

// upstreamCreates finds the nearest stage upstream that would create f.
func upstreamCreates(in *stage.PlanInput, f *function) *apitype.StagePlan {
	for i := len(in.Upstream) - 1; i >= 0; i-- {
		if u := &in.Upstream[i]; u.Action == apitype.PlanCreate && u.Target == f.String() {
			return u
		}
	}
	return nil
}

// plannedVersions is f's published versions as a stage will find them
// when it runs: today's, plus the one a stage upstream would publish. by
// names that stage, and published the version number it would get.
func plannedVersions(ctx context.Context, in *stage.PlanInput, f *function) (versions []int, by *apitype.StagePlan, published string, err error) {
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return nil, nil, "", err
	}
	if !found && upstreamCreates(in, f) == nil {
		return nil, nil, "", fail("%s does not exist; check functionName and account", f)
	}
	by = upstreamPublish(in, f)
	if by == nil {
		return versions, nil, "", nil
	}
	next := 1
	if len(versions) > 0 {
		next = versions[len(versions)-1] + 1
	}
	return append(versions, next), by, strconv.Itoa(next), nil
}

// describeVersion names a version for a plan: "version 3", or "version 4,
// the version the Deploy stage 'Deploy' publishes".
func describeVersion(v string, by *apitype.StagePlan, published string) string {
	if by != nil && v == published {
		s := fmt.Sprintf("version %s, the version the %s stage '%s' publishes", v, shortType(by.Type), by.Name)
		if !by.Publishes.Certain {
			s += " (if Lambda finds its code differs)"
		}
		return s
	}
	return "version " + v
}

// shortType is a stage type as people say it: "Deploy" for
// Aws.LambdaDeploymentStage.
func shortType(t string) string {
	switch t {
	case DeployTypeName:
		return "Deploy"
	case UpdateCodeTypeName:
		return "Update Code"
	}
	return t
}

// planRoute plans an Aws.LambdaTrafficRoutingStage: the alias's routing
// before → after, its selectors resolved as resolveRoute resolves them.
func planRoute(ctx context.Context, in *stage.PlanInput, f *function, s *routeSpec, p *apitype.StagePlan) error {
	if s.DeploymentStrategy.Expr() || s.VersionNameA.Expr() || s.VersionNameB.Expr() || s.TrafficPercentA.Expr() ||
		s.VersionNumberA.Expr() || s.VersionNumberB.Expr() || s.AliasName.Expr() {
		p.Action = apitype.PlanRunTime
		p.Summary = fmt.Sprintf("the routing of %s is known only at run time: its selectors are expressions", f)
		return nil
	}
	versions, by, published, err := plannedVersions(ctx, in, f)
	if err != nil {
		return err
	}
	alias := s.alias()
	before := aliasState{weights: map[string]float64{}}
	fn, found, err := getFunction(ctx, f)
	if err != nil {
		return err
	} else if found {
		if before, err = readAlias(ctx, f, alias); err != nil {
			return err
		}
	}
	strategy := s.DeploymentStrategy.Value
	var version string
	weights := map[string]float64{}
	describe := func(v string) string { return describeVersion(v, by, published) }
	switch strategy {
	case strategySimple:
		v, sel, err := s.resolveSide(f, "A", versions)
		if err != nil {
			return err
		}
		version = v
		p.Notes = append(p.Notes, fmt.Sprintf("versionNameA %s = %s", sel, describe(v)))
	case strategyWeighted:
		a, selA, err := s.resolveSide(f, "A", versions)
		if err != nil {
			return err
		}
		b, selB, err := s.resolveSide(f, "B", versions)
		if err != nil {
			return err
		}
		if a == b {
			return fail("versionNameA %s and versionNameB %s both name version %s of %s; $WEIGHTED routes between two different versions", selA, selB, a, f.name)
		}
		pct := s.TrafficPercentA.Value
		p.Notes = append(p.Notes, fmt.Sprintf("versionNameA %s = %s at %v%%; versionNameB %s = %s at %v%%", selA, describe(a), pct, selB, describe(b), 100-pct))
		switch {
		case pct >= 100:
			version = a
		case pct <= 0:
			version = b
		default:
			version = a
			weights[b] = roundWeight(pct)
			// AWS's rule for two versions, checked as the run checks it
			// when both exist already.
			if by == nil || (a != published && b != published) {
				if err := checkSameRoleAndDLQ(ctx, f, a, b); err != nil {
					return err
				}
			}
		}
	case strategyBlueGreen:
		if len(versions) == 0 {
			return fail("$BLUEGREEN tests the newest published version of %s, and it has none", f)
		}
		version = strconv.Itoa(versions[len(versions)-1])
		p.Notes = append(p.Notes, fmt.Sprintf("$BLUEGREEN: invokes %s first and routes to it only if every check passes; otherwise the alias stays as it is", describe(version)))
	case strategyProgressive:
		if !before.found {
			return fail("$PROGRESSIVE shifts alias %s of %s from the version it routes now, and the alias does not exist; create it first", alias, f.name)
		}
		if s.VersionNameA.Missing() {
			s.VersionNameA.Value = SelectorLatest
		}
		v, sel, err := s.resolveSide(f, "A", versions)
		if err != nil {
			return err
		}
		version = v
		steps, err := s.Progressive.steps()
		if err != nil {
			return fail("%v", err)
		}
		var ws []string
		for _, st := range steps {
			ws = append(ws, strconv.FormatFloat(st.Weight, 'f', -1, 64)+"%")
		}
		p.Notes = append(p.Notes, fmt.Sprintf("$PROGRESSIVE: shifts traffic to versionNameA %s = %s in steps of %s; each step's checks decide at run time whether it goes on or rolls back",
			sel, describe(v), strings.Join(ws, ", ")))
	default:
		return fail("deploymentStrategy must be $SIMPLE, $WEIGHTED, $BLUEGREEN or $PROGRESSIVE, not %q", strategy)
	}
	after := routingText(version, weights)
	field := "alias " + alias
	switch {
	case !before.found:
		change(p, apitype.ChangeAdd, field, nil, after, "the alias is created")
	case before.routes(version, weights):
		change(p, apitype.ChangeSame, field, nil, after, "")
	default:
		change(p, apitype.ChangeModify, field, before.String(), "routes "+after, "")
	}
	if pc := s.ProvisionedConcurrentExecutions; pc.Set() && pc.Value > 0 {
		change(p, apitype.ChangeModify, "provisionedConcurrentExecutions on alias "+alias, nil, pc.Value, "")
	}
	aliasARN := ""
	if found && before.found {
		aliasARN = unqualifiedARN(aws.ToString(fn.Configuration.FunctionArn)) + ":" + alias
	}
	if err := planSubscriptions(ctx, f, p, aliasARN, &s.subscriptionFields, alias); err != nil {
		return err
	}
	settle(p, fmt.Sprintf("alias %s of %s: %s", alias, f, after))
	if p.Action == apitype.PlanNoChange {
		p.Summary = fmt.Sprintf("alias %s of %s already %s", alias, f, "routes "+after)
	} else {
		p.Summary = fmt.Sprintf("alias %s of %s would route %s", alias, f, after)
	}
	return nil
}

// roundWeight is the additional version's weight for percent pct of
// version A, as resolveWeighted computes it.
func roundWeight(pct float64) float64 { return math.Round((100-pct)*1e4) / 1e6 }

// planDelete plans an Aws.LambdaDeleteStage: the versions it would
// delete, resolved as resolveDeletion resolves them.
func planDelete(ctx context.Context, in *stage.PlanInput, f *function, s *deleteSpec, p *apitype.StagePlan) error {
	if s.Version.Expr() || s.VersionNumber.Expr() || s.RetentionNumber.Expr() {
		p.Action = apitype.PlanRunTime
		p.Summary = fmt.Sprintf("the versions of %s to delete are known only at run time: version is an expression", f)
		return nil
	}
	sel, err := s.selector()
	if err != nil {
		return fail("%v", err)
	}
	if sel.Name == SelectorAll {
		p.Action = apitype.PlanDelete
		p.Summary = fmt.Sprintf("%s would be deleted, with every version and alias", f)
		change(p, apitype.ChangeRemove, "function", f.name, nil, "$ALL")
		return nil
	}
	versions, by, published, err := plannedVersions(ctx, in, f)
	if err != nil {
		return err
	}
	names, err := sel.Resolve(f.name, versions, false)
	var unresolved *UnresolvedError
	switch {
	case errors.As(err, &unresolved) && len(versions) == 0:
		p.Action = apitype.PlanNoChange
		p.Summary = fmt.Sprintf("%v: nothing to delete", err)
		return nil
	case err != nil:
		return fail("%s: %v", noVersionFound, err)
	}
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return err
	}
	var deleted []string
	for _, v := range names {
		n, _ := strconv.Atoi(v)
		if !slices.Contains(versions, n) {
			change(p, apitype.ChangeSame, "version "+v, nil, nil, "already gone: nothing to delete")
			continue
		}
		if aliases := use[v]; len(aliases) > 0 {
			by := upstreamRoutes(in, aliases)
			if by == nil {
				return fail("a run would refuse to delete version %s: alias %s uses it; route the alias to another version first", v, strings.Join(aliases, ", "))
			}
			p.Notes = append(p.Notes, fmt.Sprintf("alias %s routes to version %s today; the %s stage '%s' changes its routing first, and the run refuses the deletion if it still routes there",
				strings.Join(aliases, ", "), v, by.Type, by.Name))
		}
		note := ""
		if by != nil && v == published {
			note = describeVersion(v, by, published)
		}
		change(p, apitype.ChangeRemove, "version "+v, nil, nil, note)
		deleted = append(deleted, v)
	}
	if len(deleted) == 0 {
		p.Action = apitype.PlanNoChange
		p.Summary = fmt.Sprintf("%s names no version of %s to delete", sel, f)
		return nil
	}
	p.Action = apitype.PlanDelete
	p.Summary = fmt.Sprintf("would delete version %s of %s (%s)", strings.Join(deleted, ", "), f, sel)
	return nil
}

// upstreamRoutes finds the nearest stage upstream that would change the
// routing of one of aliases.
func upstreamRoutes(in *stage.PlanInput, aliases []string) *apitype.StagePlan {
	for i := len(in.Upstream) - 1; i >= 0; i-- {
		u := &in.Upstream[i]
		for _, c := range u.Changes {
			if c.Kind != apitype.ChangeSame && slices.Contains(aliases, strings.TrimPrefix(c.Field, "alias ")) {
				return u
			}
		}
	}
	return nil
}

// planInvoke plans an Aws.LambdaInvokeStage: what it would invoke. An
// invocation changes no configuration.
func planInvoke(ctx context.Context, in *stage.PlanInput, f *function, s *invokeSpec, p *apitype.StagePlan) error {
	p.Action = apitype.PlanInvoke
	count, _ := s.invocations()
	times := fmt.Sprintf("%d time(s)", count)
	if s.ExecutionCount.Expr() {
		times = "a number of times known at run time"
	}
	qualifier := strings.TrimSpace(s.AliasName.Value)
	if qualifier == "" && !s.AliasName.Expr() {
		qualifier = strings.TrimSpace(s.Version.Value)
	}
	switch {
	case s.AliasName.Expr() || s.Version.Expr():
		p.Summary = fmt.Sprintf("would invoke %s %s; the alias or version is known only at run time", f, times)
		return nil
	case qualifier == "" || qualifier == "$LATEST":
		p.Summary = fmt.Sprintf("would invoke $LATEST of %s %s; changes nothing", f, times)
	case isVersionNumber(qualifier):
		p.Summary = fmt.Sprintf("would invoke version %s of %s %s; changes nothing", qualifier, f, times)
	default:
		a, err := readAlias(ctx, f, qualifier)
		if err != nil {
			if upstreamCreates(in, f) != nil {
				p.Summary = fmt.Sprintf("would invoke alias %s of %s (created by an earlier stage) %s", qualifier, f, times)
				return nil
			}
			return err
		}
		if !a.found {
			p.Summary = fmt.Sprintf("would invoke alias %s of %s %s; the alias does not exist now, so an earlier stage must create it", qualifier, f, times)
			return nil
		}
		p.Summary = fmt.Sprintf("would invoke alias %s of %s (today it routes %s) %s; changes nothing", qualifier, f, describeRouting(a.version, a.weights), times)
		if by := upstreamPublish(in, f); by != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("the %s stage '%s' runs first: what alias %s routes then depends on the stages between", shortType(by.Type), by.Name, qualifier))
		}
	}
	return nil
}

// planCanary plans a kayentaCanary stage: it reads metrics and changes
// nothing in AWS.
func planCanary(_ context.Context, _ *stage.PlanInput, f *function, s *canarySpec, p *apitype.StagePlan) error {
	p.Action = apitype.PlanNoAWSChange
	p.Summary = fmt.Sprintf("no AWS change: compares two versions of %s by their metrics; the verdict is known at run time", f)
	return nil
}
