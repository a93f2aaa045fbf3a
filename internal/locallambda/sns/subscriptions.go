package sns

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// Subscription protocols the local SNS delivers to.
var protocols = map[string]bool{"sqs": true, "lambda": true, "http": true, "https": true}

// subscriptionAttributes are those Subscribe and SetSubscriptionAttributes
// take.
var subscriptionAttributes = map[string]bool{
	"DeliveryPolicy": true, "FilterPolicy": true, "FilterPolicyScope": true, "RawMessageDelivery": true,
	"RedrivePolicy": true, "SubscriptionRoleArn": true, "ReplayPolicy": true,
}

// pendingConfirmation is what AWS shows instead of the ARN of a
// subscription that is not confirmed yet.
const pendingConfirmation = "PendingConfirmation"

func (s *Service) subscribe(ctx context.Context, p params) (any, error) {
	topicARN, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	protocol, err := p.required("Protocol")
	if err != nil {
		return nil, err
	}
	endpoint := p.get("Endpoint")
	if !protocols[protocol] {
		return nil, invalidParameter("Amazon SNS does not support this protocol string: %s (the local SNS delivers to sqs, lambda, http and https)", protocol)
	}
	if err := checkEndpoint(protocol, endpoint); err != nil {
		return nil, err
	}
	attrs := p.entries("Attributes", "key", "value")
	for k, v := range attrs {
		if err := checkSubscriptionAttribute(protocol, k, v, attrs); err != nil {
			return nil, err
		}
	}
	confirmed := protocol != "http" && protocol != "https"
	var sub *subscription
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, subs, err := s.topicSubscriptions(ctx, tx, topicARN)
		if err != nil {
			return err
		}
		for _, old := range subs {
			if old.Protocol == protocol && old.Endpoint == endpoint {
				// The same subscription again: AWS answers with it.
				for k, v := range attrs {
					if old.Attributes[k] != v {
						return invalidParameter("Attributes Reason: Subscription already exists with different attributes")
					}
				}
				sub = old
				return nil
			}
		}
		sub = &subscription{
			ARN: topicARN + ":" + uuid.NewString(), TopicARN: topicARN, Protocol: protocol, Endpoint: endpoint,
			Attributes: attrs, Confirmed: confirmed,
		}
		if !confirmed {
			sub.Token = newToken()
		}
		if err := putSubscription(ctx, tx, sub, s.cfg.Clock()); err != nil {
			return err
		}
		if !confirmed {
			return addDelivery(ctx, tx, sub.ARN, &message{
				Type: typeConfirmation, MessageID: uuid.NewString(), TopicARN: topicARN, Token: sub.Token,
				Message:   "You have chosen to subscribe to the topic " + topicARN + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
				Timestamp: s.cfg.Clock().UTC(),
			}, s.cfg.Clock())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.signal()
	arn := sub.ARN
	if !sub.Confirmed && p.get("ReturnSubscriptionArn") != "true" {
		arn = "pending confirmation"
	}
	return struct{ SubscriptionArn string }{arn}, nil
}

// newToken makes a confirmation token: AWS's are long hex strings.
func newToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func checkEndpoint(protocol, endpoint string) error {
	switch protocol {
	case "sqs":
		if !strings.HasPrefix(endpoint, "arn:aws:sqs:") || strings.Count(endpoint, ":") != 5 {
			return invalidParameter("SQS endpoint ARN")
		}
	case "lambda":
		if !strings.HasPrefix(endpoint, "arn:aws:lambda:") || !strings.Contains(endpoint, ":function:") {
			return invalidParameter("Lambda endpoint ARN")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalidParameter("Endpoint must match the specified protocol")
		}
	}
	return nil
}

func checkSubscriptionAttribute(protocol, name, value string, all map[string]string) error {
	if !subscriptionAttributes[name] {
		return invalidParameter("AttributeName")
	}
	switch name {
	case "RawMessageDelivery":
		if value != "true" && value != "false" {
			return invalidParameter("Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", value)
		}
		if protocol == "lambda" && value == "true" {
			return invalidParameter("Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.")
		}
	case "FilterPolicyScope":
		if value != scopeAttributes && value != scopeBody {
			return invalidParameter("Attributes Reason: FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", value)
		}
		if fp := all["FilterPolicy"]; fp != "" {
			if _, err := parseFilterPolicy(fp, value); err != nil {
				return invalidParameter("FilterPolicy: %s", err)
			}
		}
	case "FilterPolicy":
		if value == "" {
			return nil
		}
		scope := all["FilterPolicyScope"]
		if scope == "" {
			scope = scopeAttributes
		}
		if _, err := parseFilterPolicy(value, scope); err != nil {
			return invalidParameter("FilterPolicy: %s", err)
		}
	case "RedrivePolicy":
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		}
		if value != "" && (json.Unmarshal([]byte(value), &rp) != nil || !strings.HasPrefix(rp.DeadLetterTargetArn, "arn:aws:sqs:")) {
			return invalidParameter("RedrivePolicy: deadLetterTargetArn must be an SQS queue ARN")
		}
	case "DeliveryPolicy", "ReplayPolicy":
		if value != "" && !json.Valid([]byte(value)) {
			return invalidParameter("%s: the value is not valid JSON", name)
		}
	}
	return nil
}

func (s *Service) confirmSubscription(ctx context.Context, p params) (any, error) {
	topicARN, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	token, err := p.required("Token")
	if err != nil {
		return nil, err
	}
	var arn string
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, subs, err := s.topicSubscriptions(ctx, tx, topicARN)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if sub.Token != "" && sub.Token == token {
				arn = sub.ARN
				if sub.Confirmed {
					return nil
				}
				sub.Confirmed = true
				if p.get("AuthenticateOnUnsubscribe") == "true" {
					sub.Attributes["ConfirmationWasAuthenticated"] = "true"
				}
				return putSubscription(ctx, tx, sub, s.cfg.Clock())
			}
		}
		return invalidParameter("Token")
	})
	if err != nil {
		return nil, err
	}
	return struct{ SubscriptionArn string }{arn}, nil
}

func (s *Service) unsubscribe(ctx context.Context, p params) (any, error) {
	arn, err := p.required("SubscriptionArn")
	if err != nil {
		return nil, err
	}
	return nil, s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := mustSubscription(ctx, tx, arn); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE subscription_arn = ?`, arn); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE arn = ?`, arn)
		return err
	})
}

// mustSubscription reads a subscription that must exist.
func mustSubscription(ctx context.Context, q queryer, arn string) (*subscription, error) {
	sub, err := getSubscription(ctx, q, arn)
	if err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, notFound("Subscription does not exist")
	}
	return sub, nil
}

type subscriptionMember struct {
	SubscriptionArn, Owner, Protocol, Endpoint, TopicArn string
}

type subscriptionList struct {
	Subscriptions []subscriptionMember `xml:"Subscriptions>member"`
	NextToken     string               `xml:",omitempty"`
}

func (s *Service) listSubscriptions(ctx context.Context, p params) (any, error) {
	return s.subscriptionPage(ctx, "", p.get("NextToken"))
}

func (s *Service) listSubscriptionsByTopic(ctx context.Context, p params) (any, error) {
	arn, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	if _, err := s.mustTopic(ctx, s.db, arn); err != nil {
		return nil, err
	}
	return s.subscriptionPage(ctx, arn, p.get("NextToken"))
}

func (s *Service) subscriptionPage(ctx context.Context, topicARN, next string) (any, error) {
	subs, err := listSubscriptions(ctx, s.db, topicARN)
	if err != nil {
		return nil, err
	}
	start := 0
	if next != "" {
		start = -1
		for i, sub := range subs {
			if sub.ARN == next {
				start = i
			}
		}
		if start < 0 {
			return nil, invalidParameter("NextToken")
		}
	}
	var out subscriptionList
	for i := start; i < len(subs); i++ {
		if len(out.Subscriptions) == pageSize {
			out.NextToken = subs[i].ARN
			break
		}
		sub := subs[i]
		arn := sub.ARN
		if !sub.Confirmed {
			arn = pendingConfirmation
		}
		out.Subscriptions = append(out.Subscriptions, subscriptionMember{arn, s.cfg.AccountID, sub.Protocol, sub.Endpoint, sub.TopicARN})
	}
	return out, nil
}

func (s *Service) getSubscriptionAttributes(ctx context.Context, p params) (any, error) {
	arn, err := p.required("SubscriptionArn")
	if err != nil {
		return nil, err
	}
	sub, err := mustSubscription(ctx, s.db, arn)
	if err != nil {
		return nil, err
	}
	attrs := xmlAttributes{
		"SubscriptionArn":              sub.ARN,
		"TopicArn":                     sub.TopicARN,
		"Owner":                        s.cfg.AccountID,
		"Protocol":                     sub.Protocol,
		"Endpoint":                     sub.Endpoint,
		"PendingConfirmation":          boolString(!sub.Confirmed),
		"ConfirmationWasAuthenticated": boolString(sub.Confirmed),
		"RawMessageDelivery":           "false",
		"EffectiveDeliveryPolicy":      s.effectiveDeliveryPolicy(),
	}
	maps.Copy(attrs, sub.Attributes)
	if attrs["FilterPolicy"] != "" && attrs["FilterPolicyScope"] == "" {
		attrs["FilterPolicyScope"] = scopeAttributes
	}
	return struct{ Attributes xmlAttributes }{attrs}, nil
}

func (s *Service) setSubscriptionAttributes(ctx context.Context, p params) (any, error) {
	arn, err := p.required("SubscriptionArn")
	if err != nil {
		return nil, err
	}
	name, err := p.required("AttributeName")
	if err != nil {
		return nil, err
	}
	value := p.get("AttributeValue")
	return nil, s.tx(ctx, func(tx *sql.Tx) error {
		sub, err := mustSubscription(ctx, tx, arn)
		if err != nil {
			return err
		}
		next := maps.Clone(sub.Attributes)
		next[name] = value
		if err := checkSubscriptionAttribute(sub.Protocol, name, value, next); err != nil {
			return err
		}
		if value == "" && name == "FilterPolicy" {
			delete(next, name)
		}
		sub.Attributes = next
		return putSubscription(ctx, tx, sub, s.cfg.Clock())
	})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
