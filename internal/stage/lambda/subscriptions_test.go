package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

type subscriptionSpec struct{ subscriptionFields }

func (s *subscriptionSpec) Check(c *stage.Checker) { s.subscriptionFields.check(c) }

// lambdaSubscriptions is topic → endpoint of every lambda subscription
// SNS holds.
func lambdaSubscriptions(t *testing.T, e *localEnv) map[string][]string {
	t.Helper()
	out, err := e.acct.SNS.ListSubscriptions(context.Background(), &sns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string][]string{}
	for _, s := range out.Subscriptions {
		if aws.ToString(s.Protocol) == "lambda" {
			subs[aws.ToString(s.TopicArn)] = append(subs[aws.ToString(s.TopicArn)], aws.ToString(s.Endpoint))
		}
	}
	return subs
}

// policyStatements is the Sid → SourceArn of the target's resource policy.
func policyStatements(t *testing.T, e *localEnv, fn string, qualifier *string) map[string]string {
	t.Helper()
	out, err := e.c.GetPolicy(context.Background(), &lambda.GetPolicyInput{FunctionName: aws.String(fn), Qualifier: qualifier})
	if isNotFound(err) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Principal map[string]string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		t.Fatalf("policy %s: %v", aws.ToString(out.Policy), err)
	}
	got := map[string]string{}
	for _, s := range doc.Statement {
		if s.Principal["Service"] != "sns.amazonaws.com" {
			t.Errorf("statement %s: principal %v, want sns.amazonaws.com", s.Sid, s.Principal)
		}
		got[s.Sid] = s.Condition["ArnLike"]["AWS:SourceArn"]
	}
	return got
}

// TestMotoSNSSubscriptions: snsTopicArns against moto_server's SNS and
// Lambda.
func TestMotoSNSSubscriptions(t *testing.T) {
	testSNSSubscriptions(t, newMotoEnv(t), "moto", "123456789012", motoDeploy)
}

// TestLocalSNSSubscriptions: snsTopicArns against the local Lambda's SNS
// and its resource policies.
func TestLocalSNSSubscriptions(t *testing.T) {
	testSNSSubscriptions(t, newLocalEnv(t), "local", "000000000000", deployFields)
}

// testSNSSubscriptions: snsTopicArns subscribes the function (Deploy) or
// the alias (Route) to each topic with the permission SNS needs, keeps what
// is there, removes what is no longer listed, and leaves everything alone
// when absent. deploy builds a Deploy stage's fields in account.
func testSNSSubscriptions(t *testing.T, e *localEnv, account, accountID string, deployOf func(fn, key string, extra map[string]any) map[string]any) {
	ctx := context.Background()
	e.put(t, "s1.zip", helloZip(t))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	route := typeOf(t, e.accounts, RouteTypeName)
	var topics []string
	for _, name := range []string{"orders", "refunds"} {
		out, err := e.acct.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		topics = append(topics, aws.ToString(out.TopicArn))
	}
	fnARN := "arn:aws:lambda:us-east-1:" + accountID + ":function:shop-consumer"

	out := newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", map[string]any{
		"publish": true, "aliases": []any{"live"}, "snsTopicArns": []any{topics[0], topics[1], topics[0]}})).mustSucceed()
	subs, _ := out["snsSubscriptions"].(map[string]any)
	if got := slices.Sorted(maps.Keys(subs)); !slices.Equal(got, topics) {
		t.Fatalf("snsSubscriptions = %v, want both topics", out["snsSubscriptions"])
	}
	if got := lambdaSubscriptions(t, e); !slices.Equal(got[topics[0]], []string{fnARN}) || !slices.Equal(got[topics[1]], []string{fnARN}) {
		t.Errorf("subscriptions = %v, want one per topic to %s", got, fnARN)
	}
	if got := policyStatements(t, e, "shop-consumer", nil); got[snsStatementID(topics[0])] != topics[0] || got[snsStatementID(topics[1])] != topics[1] {
		t.Errorf("policy statements = %v, want one per topic", got)
	}

	// The plan of [refunds, payments]: orders goes, refunds stays,
	// payments comes.
	var spec subscriptionSpec
	if errs := stage.Validate(map[string]any{"snsTopicArns": []any{topics[1], "arn:aws:sns:us-east-1:" + accountID + ":payments"}}, &spec); len(errs) > 0 {
		t.Fatal(errs)
	}
	p := &apitype.StagePlan{}
	f := &function{acct: e.acct, c: e.c, name: "shop-consumer"}
	if err := planSubscriptions(ctx, f, p, fnARN, &spec.subscriptionFields, ""); err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, c := range p.Changes {
		planned = append(planned, fmt.Sprintf("%s %v→%v", c.Kind, c.Old, c.New))
	}
	want := []string{apitype.ChangeRemove + " " + topics[0] + "→<nil>", apitype.ChangeSame + " <nil>→" + topics[1],
		apitype.ChangeAdd + " <nil>→arn:aws:sns:us-east-1:" + accountID + ":payments"}
	if !slices.Equal(planned, want) {
		t.Errorf("plan = %q, want %q", planned, want)
	}

	// Absent: left alone. Listed again: nothing changes.
	newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", nil)).mustSucceed()
	if got := lambdaSubscriptions(t, e); len(got[topics[0]]) != 1 || len(got[topics[1]]) != 1 {
		t.Errorf("after a deploy without snsTopicArns: %v, want both subscriptions kept", got)
	}
	out = newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", map[string]any{"snsTopicArns": []any{topics[1]}})).mustSucceed()
	if got := lambdaSubscriptions(t, e); len(got[topics[0]]) != 0 || !slices.Equal(got[topics[1]], []string{fnARN}) {
		t.Errorf("after snsTopicArns [refunds]: %v, want orders unsubscribed", got)
	}
	if got := policyStatements(t, e, "shop-consumer", nil); len(got) != 1 || got[snsStatementID(topics[1])] != topics[1] {
		t.Errorf("policy after removing orders = %v, want refunds' statement alone", got)
	}
	if subs, _ := out["snsSubscriptions"].(map[string]any); len(subs) != 1 || subs[topics[1]] == nil {
		t.Errorf("snsSubscriptions = %v", out["snsSubscriptions"])
	}

	// Route: the alias is subscribed, beside the function.
	newStageRun(t, route, "shop", map[string]any{"account": account, "region": "us-east-1", "functionName": "consumer",
		"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST", "leaveAbsent": true,
		"snsTopicArns": []any{topics[0]}}).mustSucceed()
	if got := lambdaSubscriptions(t, e); !slices.Equal(got[topics[0]], []string{fnARN + ":live"}) || !slices.Equal(got[topics[1]], []string{fnARN}) {
		t.Errorf("after Route: %v, want orders → the alias, refunds → the function", got)
	}
	if got := policyStatements(t, e, "shop-consumer", aws.String("live")); got[snsStatementID(topics[0])] != topics[0] {
		t.Errorf("alias policy = %v, want the orders statement", got)
	}

	// []: the function's subscriptions go; the alias's stay.
	newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", map[string]any{"snsTopicArns": []any{}})).mustSucceed()
	if got := lambdaSubscriptions(t, e); len(got[topics[1]]) != 0 || !slices.Equal(got[topics[0]], []string{fnARN + ":live"}) {
		t.Errorf("after snsTopicArns []: %v, want the alias's subscription alone", got)
	}

	msg := newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", map[string]any{
		"snsTopicArns": []any{"arn:aws:sns:us-east-1:" + accountID + ":missing"}})).mustFail()
	if !strings.Contains(msg, "missing does not exist") {
		t.Errorf("a topic that does not exist: %q", msg)
	}
	msg = newStageRun(t, deploy, "shop", deployOf("consumer", "s1.zip", map[string]any{
		"snsTopicArns": []any{"arn:aws:sns:eu-west-1:" + accountID + ":orders"}})).mustFail()
	if !strings.Contains(msg, "is in region eu-west-1") {
		t.Errorf("a topic in another region: %q", msg)
	}
	mustRefuse(t, deploy, deployOf("consumer", "s1.zip", map[string]any{"snsTopicArns": []any{"arn:aws:sqs:us-east-1:" + accountID + ":q"}}),
		"snsTopicArns[0]", "is not an SNS topic ARN")
}
