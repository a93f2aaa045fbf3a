package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

// SNS subscriptions of a function (Deploy) or an alias (Route): Sluice's
// snsTopicArns. Spinnaker's triggerArns create event source mappings
// only, which Lambda refuses for a topic; a separate field keeps the
// meaning of a Spinnaker document as it was. Absent, it leaves
// subscriptions alone; [] unsubscribes the target from every topic.
//
// A subscription is the pair AWS needs: a statement in the target's
// resource policy letting sns.amazonaws.com invoke it from the topic
// (statement ID snsStatementID), and the topic's subscription with
// protocol lambda and the target's ARN as endpoint. Both calls are
// idempotent, so a task run again after a crash does each at most once
// in effect.

var topicARNPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws[a-zA-Z-]*:sns:([a-z0-9-]+):(\d{12}):[A-Za-z0-9_-]{1,256}$`)
})

// subscriptionFields are the fields of SNS subscriptions (Deploy, Route).
type subscriptionFields struct {
	SNSTopicArns stage.StringsField `json:"snsTopicArns" hint:"Sluice: SNS topics the target (Deploy: the function; Route: the alias) is subscribed to, with the permission SNS needs to invoke it; absent leaves subscriptions alone, [] removes the target's"`
}

func (s *subscriptionFields) check(c *stage.Checker) {
	for i, a := range s.SNSTopicArns.Value {
		if !topicARNPattern().MatchString(a) {
			c.Add(stage.FieldError{Field: fmt.Sprintf("%s[%d]", s.SNSTopicArns.Path(), i),
				Msg: fmt.Sprintf("%q is not an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:orders", a)})
		}
	}
}

// manageSubscriptions reports whether the stage manages the target's
// subscriptions: only when snsTopicArns is given.
func (s *subscriptionFields) manageSubscriptions() bool {
	return s.SNSTopicArns.Set() || s.SNSTopicArns.Expr()
}

// snsStatementID is the resource-policy statement that lets topic invoke
// the target: named after the topic, unique per topic ARN.
func snsStatementID(topic string) string {
	sum := sha256.Sum256([]byte(topic))
	name := topic[strings.LastIndex(topic, ":")+1:]
	if len(name) > 40 {
		name = name[:40]
	}
	return "sluice-sns-" + name + "-" + hex.EncodeToString(sum[:])[:12]
}

// reconcileSubscriptions makes target's lambda subscriptions — exactly
// that ARN: the unqualified function, or function:alias — the topics
// asked for, one pass per call. It returns topic → subscription ARN when
// nothing had to change; otherwise it applies what differs and returns a
// notYet, so the next run verifies.
func reconcileSubscriptions(ctx context.Context, f *function, target string, topics []string) (map[string]string, error) {
	c := f.acct.SNS
	if c == nil {
		return nil, fail("snsTopicArns: account %s has no SNS endpoint", f.acct.Name)
	}
	for _, t := range topics {
		if m := topicARNPattern().FindStringSubmatch(t); m != nil && m[1] != f.acct.Region {
			return nil, fail("snsTopicArns: topic %s is in region %s, and the stage runs in %s; subscribe the function in the topic's region", t, m[1], f.acct.Region)
		}
	}
	have, err := subscriptionsOf(ctx, f, target)
	if err != nil {
		return nil, err
	}
	fn, qualifier := splitQualifier(target)
	changed := 0
	for topic, arns := range have {
		if slices.Contains(topics, topic) {
			continue
		}
		for _, sub := range arns {
			if _, err := c.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(sub)}); err != nil && !isSNSNotFound(err) {
				return nil, apiError(f, "SNS Unsubscribe "+sub, err)
			}
		}
		if _, err := f.c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String(fn), Qualifier: qualifier,
			StatementId: aws.String(snsStatementID(topic))}); err != nil && !isNotFound(err) {
			return nil, apiError(f, "RemovePermission "+snsStatementID(topic), err)
		}
		changed++
	}
	out := map[string]string{}
	for _, topic := range topics {
		if arns := have[topic]; len(arns) > 0 {
			out[topic] = arns[0]
			continue
		}
		_, err := f.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(fn), Qualifier: qualifier,
			StatementId: aws.String(snsStatementID(topic)), Action: aws.String("lambda:InvokeFunction"),
			Principal: aws.String("sns.amazonaws.com"), SourceArn: aws.String(topic)})
		if err != nil && !isStatementExists(err) {
			return nil, apiError(f, "AddPermission for "+topic, err)
		}
		if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("lambda"),
			Endpoint: aws.String(target), ReturnSubscriptionArn: true}); err != nil {
			if isSNSNotFound(err) {
				return nil, fail("snsTopicArns: topic %s does not exist in account %s (%s); create it first", topic, f.acct.Name, f.acct.Region)
			}
			return nil, apiError(f, "SNS Subscribe to "+topic, err)
		}
		changed++
	}
	if changed > 0 {
		return nil, retry("changed %d SNS subscription(s) of %s; verifying", changed, target)
	}
	return out, nil
}

// subscriptionsOf lists the lambda subscriptions whose endpoint is target,
// by topic (a topic may hold several for one endpoint).
func subscriptionsOf(ctx context.Context, f *function, target string) (map[string][]string, error) {
	have := map[string][]string{}
	p := sns.NewListSubscriptionsPaginator(f.acct.SNS, &sns.ListSubscriptionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiError(f, "SNS ListSubscriptions", err)
		}
		for _, s := range page.Subscriptions {
			arn := aws.ToString(s.SubscriptionArn)
			// A subscription awaiting confirmation has no ARN yet; lambda
			// subscriptions never wait.
			if aws.ToString(s.Protocol) != "lambda" || aws.ToString(s.Endpoint) != target || !strings.HasPrefix(arn, "arn:") {
				continue
			}
			topic := aws.ToString(s.TopicArn)
			have[topic] = append(have[topic], arn)
		}
	}
	return have, nil
}

// splitQualifier splits a function ARN into the unqualified ARN and its
// qualifier (nil when there is none).
func splitQualifier(arn string) (string, *string) {
	fn := unqualifiedARN(arn)
	if q, ok := strings.CutPrefix(arn, fn+":"); ok {
		return fn, aws.String(q)
	}
	return fn, nil
}

// isStatementExists reports AWS's answer to an AddPermission whose
// statement ID is taken: the permission is there.
func isStatementExists(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ResourceConflictException" || ae.ErrorCode() == "ConflictException") &&
		strings.Contains(strings.ToLower(ae.ErrorMessage()), "already exists")
}

// isSNSNotFound reports SNS's NotFound (a topic or subscription that is
// not there).
func isSNSNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NotFoundException")
}

// planSubscriptions shows what reconcileSubscriptions would change on
// target; on names the alias for the field ("" for the function).
func planSubscriptions(ctx context.Context, f *function, p *apitype.StagePlan, target string, s *subscriptionFields, on string) error {
	if !s.manageSubscriptions() {
		return nil
	}
	if s.SNSTopicArns.Expr() {
		p.Notes = append(p.Notes, "SNS subscriptions: snsTopicArns is known only at run time")
		return nil
	}
	field := "snsSubscription"
	if on != "" {
		field += " on alias " + on
	}
	topics := dedupe(s.SNSTopicArns.Value)
	have := map[string][]string{}
	if target != "" {
		var err error
		if have, err = subscriptionsOf(ctx, f, target); err != nil {
			return err
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(have)) {
		if !slices.Contains(topics, topic) {
			change(p, apitype.ChangeRemove, field, topic, nil, "unsubscribed; its invoke permission removed")
		}
	}
	for _, topic := range topics {
		if len(have[topic]) > 0 {
			change(p, apitype.ChangeSame, field, nil, topic, "")
		} else {
			change(p, apitype.ChangeAdd, field, nil, topic, "subscribed, with permission for SNS to invoke")
		}
	}
	return nil
}
