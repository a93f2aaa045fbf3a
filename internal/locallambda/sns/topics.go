package sns

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/awsid"
)

// topicAttributes are the topic attributes CreateTopic and
// SetTopicAttributes take.
var topicAttributes = map[string]bool{
	"DisplayName": true, "Policy": true, "DeliveryPolicy": true, "KmsMasterKeyId": true,
	"TracingConfig": true, "SignatureVersion": true, "ArchivePolicy": true, "DataProtectionPolicy": true,
	"HTTPSuccessFeedbackRoleArn": true, "HTTPFailureFeedbackRoleArn": true, "HTTPSuccessFeedbackSampleRate": true,
	"LambdaSuccessFeedbackRoleArn": true, "LambdaFailureFeedbackRoleArn": true, "LambdaSuccessFeedbackSampleRate": true,
	"SQSSuccessFeedbackRoleArn": true, "SQSFailureFeedbackRoleArn": true, "SQSSuccessFeedbackSampleRate": true,
}

func newRequestID() string { return uuid.NewString() }

func (s *Service) createTopic(ctx context.Context, p params) (any, error) {
	name, err := p.required("Name")
	if err != nil {
		return nil, err
	}
	attrs := p.entries("Attributes", "key", "value")
	fifo := strings.HasSuffix(name, ".fifo")
	if fifo || attrs["FifoTopic"] == "true" {
		return nil, invalidParameter("Topic Name: FIFO topics (%q) are not supported by the local SNS: create a standard topic", name)
	}
	if !awsid.Name(name, 256, "_-") {
		return nil, invalidParameter("Topic Name")
	}
	delete(attrs, "FifoTopic")
	for k, v := range attrs {
		if err := checkTopicAttribute(k, v); err != nil {
			return nil, err
		}
	}
	tags := p.tags()
	arn := s.topicARN(name)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		t, err := getTopic(ctx, tx, arn)
		if err != nil {
			return err
		}
		if t != nil {
			// Idempotent, as AWS: the same name and attributes give the
			// same topic.
			for k, v := range attrs {
				if t.Attributes[k] != v {
					return invalidParameter("Attributes Reason: Topic already exists with different attributes")
				}
			}
			return nil
		}
		return putTopic(ctx, tx, &topic{ARN: arn, Name: name, Attributes: attrs, Tags: tags}, s.cfg.Clock())
	})
	if err != nil {
		return nil, err
	}
	return struct{ TopicArn string }{arn}, nil
}

func checkTopicAttribute(name, value string) error {
	if !topicAttributes[name] {
		return invalidParameter("AttributeName")
	}
	switch name {
	case "Policy", "DeliveryPolicy", "DataProtectionPolicy", "ArchivePolicy":
		if value != "" && !json.Valid([]byte(value)) {
			return invalidParameter("Attributes Reason: %s: the value is not valid JSON", name)
		}
	case "SignatureVersion":
		if value != "1" && value != "2" {
			return invalidParameter("Attributes Reason: SignatureVersion: Invalid value [%s]. Valid values are 1 and 2.", value)
		}
	case "TracingConfig":
		if value != "PassThrough" && value != "Active" {
			return invalidParameter("Attributes Reason: TracingConfig: Invalid value [%s]. Valid values are PassThrough and Active.", value)
		}
	}
	return nil
}

// mustTopic reads a topic that must exist.
func (s *Service) mustTopic(ctx context.Context, q queryer, arn string) (*topic, error) {
	if arn == "" {
		return nil, invalidParameter("TopicArn")
	}
	t, err := getTopic(ctx, q, arn)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, notFound("Topic does not exist")
	}
	return t, nil
}

// topicSubscriptions reads a topic that must exist and its subscriptions.
func (s *Service) topicSubscriptions(ctx context.Context, q queryer, arn string) (*topic, []*subscription, error) {
	t, err := s.mustTopic(ctx, q, arn)
	if err != nil {
		return nil, nil, err
	}
	subs, err := listSubscriptions(ctx, q, arn)
	if err != nil {
		return nil, nil, err
	}
	return t, subs, nil
}

func (s *Service) deleteTopic(ctx context.Context, p params) (any, error) {
	arn, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	// Deleting a topic that does not exist is not an error (AWS).
	return nil, s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE subscription_arn IN (SELECT arn FROM subscriptions WHERE topic_arn = ?)`, arn); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE topic_arn = ?`, arn); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM topics WHERE arn = ?`, arn)
		return err
	})
}

const pageSize = 100

func (s *Service) listTopics(ctx context.Context, p params) (any, error) {
	next := p.get("NextToken")
	rows, err := s.db.QueryContext(ctx, `SELECT arn FROM topics WHERE arn > ? ORDER BY arn LIMIT ?`, next, pageSize+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type member struct{ TopicArn string }
	var out struct {
		Topics    []member `xml:"Topics>member"`
		NextToken string   `xml:",omitempty"`
	}
	for rows.Next() {
		var arn string
		if err := rows.Scan(&arn); err != nil {
			return nil, err
		}
		out.Topics = append(out.Topics, member{arn})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out.Topics) > pageSize {
		out.Topics = out.Topics[:pageSize]
		out.NextToken = out.Topics[pageSize-1].TopicArn
	}
	return out, nil
}

func (s *Service) getTopicAttributes(ctx context.Context, p params) (any, error) {
	arn, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	t, subs, err := s.topicSubscriptions(ctx, s.db, arn)
	if err != nil {
		return nil, err
	}
	confirmed, pending := 0, 0
	for _, sub := range subs {
		if sub.Confirmed {
			confirmed++
		} else {
			pending++
		}
	}
	attrs := xmlAttributes{
		"TopicArn":                arn,
		"Owner":                   s.cfg.AccountID,
		"DisplayName":             "",
		"SubscriptionsConfirmed":  strconv.Itoa(confirmed),
		"SubscriptionsPending":    strconv.Itoa(pending),
		"SubscriptionsDeleted":    "0",
		"Policy":                  defaultTopicPolicy(arn, s.cfg.AccountID),
		"EffectiveDeliveryPolicy": s.effectiveDeliveryPolicy(),
	}
	maps.Copy(attrs, t.Attributes)
	return struct {
		Attributes xmlAttributes
	}{attrs}, nil
}

func (s *Service) setTopicAttributes(ctx context.Context, p params) (any, error) {
	arn, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	name, err := p.required("AttributeName")
	if err != nil {
		return nil, err
	}
	value := p.get("AttributeValue")
	if err := checkTopicAttribute(name, value); err != nil {
		return nil, err
	}
	return nil, s.tx(ctx, func(tx *sql.Tx) error {
		t, err := s.mustTopic(ctx, tx, arn)
		if err != nil {
			return err
		}
		if t.Attributes == nil {
			t.Attributes = map[string]string{}
		}
		t.Attributes[name] = value
		return putTopic(ctx, tx, t, s.cfg.Clock())
	})
}

// taggedResource reads the resource of TagResource, UntagResource and
// ListTagsForResource: a topic that must exist.
func taggedResource(ctx context.Context, q queryer, arn string) (*topic, error) {
	t, err := getTopic(ctx, q, arn)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, &apiError{Status: 404, Code: "ResourceNotFound", Message: "Resource does not exist"}
	}
	return t, nil
}

func (s *Service) tagResource(ctx context.Context, p params) (any, error) {
	return s.changeTags(ctx, p, p.tags(), nil)
}

func (s *Service) untagResource(ctx context.Context, p params) (any, error) {
	var keys []string
	for _, n := range p.indexes("TagKeys.member.") {
		keys = append(keys, p.get("TagKeys.member."+strconv.Itoa(n)))
	}
	return s.changeTags(ctx, p, nil, keys)
}

// changeTags adds tags add to, and removes tag keys remove from, the
// resource that the parameter ResourceArn names. Its result is empty, but
// there, as AWS writes it (<TagResourceResult/>): the SDKs expect it.
func (s *Service) changeTags(ctx context.Context, p params, add map[string]string, remove []string) (any, error) {
	arn, err := p.required("ResourceArn")
	if err != nil {
		return nil, err
	}
	return struct{}{}, s.tx(ctx, func(tx *sql.Tx) error {
		t, err := taggedResource(ctx, tx, arn)
		if err != nil {
			return err
		}
		if t.Tags == nil {
			t.Tags = map[string]string{}
		}
		maps.Copy(t.Tags, add)
		for _, k := range remove {
			delete(t.Tags, k)
		}
		return putTopic(ctx, tx, t, s.cfg.Clock())
	})
}

func (s *Service) listTagsForResource(ctx context.Context, p params) (any, error) {
	arn, err := p.required("ResourceArn")
	if err != nil {
		return nil, err
	}
	t, err := taggedResource(ctx, s.db, arn)
	if err != nil {
		return nil, err
	}
	type tag struct{ Key, Value string }
	var out struct {
		Tags []tag `xml:"Tags>member"`
	}
	for _, k := range slices.Sorted(maps.Keys(t.Tags)) {
		out.Tags = append(out.Tags, tag{k, t.Tags[k]})
	}
	return out, nil
}

func defaultTopicPolicy(arn, account string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2008-10-17", "Id": "__default_policy_ID",
		"Statement": []any{map[string]any{
			"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": map[string]string{"AWS": "*"},
			"Action":    []string{"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"},
			"Resource":  arn,
			"Condition": map[string]any{"StringEquals": map[string]string{"AWS:SourceOwner": account}},
		}},
	})
	return string(b)
}

func (s *Service) effectiveDeliveryPolicy() string {
	delay := 20
	if len(s.cfg.RetryDelays) > 0 {
		delay = max(int(s.cfg.RetryDelays[0].Seconds()), 0)
	}
	b, _ := json.Marshal(map[string]any{"http": map[string]any{
		"defaultHealthyRetryPolicy": map[string]any{"minDelayTarget": delay, "maxDelayTarget": delay, "numRetries": len(s.cfg.RetryDelays),
			"numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
		"disableSubscriptionOverrides": false, "defaultRequestPolicy": map[string]any{"headerContentType": "text/plain; charset=UTF-8"},
	}})
	return string(b)
}

// tx runs f in a transaction and commits it.
func (s *Service) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
