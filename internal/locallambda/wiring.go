package locallambda

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/sns"
	"github.com/sluice-cd/sluice/internal/locallambda/sqs"
)

// The services deliver to each other: SNS invokes functions (lambda
// subscriptions) and sends to queues (sqs subscriptions); the Event queue
// sends dead-letter events and destination records to queues and topics.
// These adapters connect them; each waits until the Server has built all
// of them.

// functions gives package sns the Event queue.
type functions Server

func (f *functions) InvokeAsync(ctx context.Context, function string, payload []byte) (string, error) {
	s := (*Server)(f)
	if err := s.waitWired(ctx); err != nil {
		return "", err
	}
	return s.iv.InvokeAsync(ctx, function, payload)
}

// queues gives package sns the local SQS.
type queues Server

func (q *queues) SendMessage(ctx context.Context, queueARN, body string, attrs map[string]sns.MessageAttribute) error {
	s := (*Server)(q)
	if err := s.waitWired(ctx); err != nil {
		return err
	}
	var qa map[string]sqs.MessageAttributeValue
	if len(attrs) > 0 {
		qa = make(map[string]sqs.MessageAttributeValue, len(attrs))
		for k, a := range attrs {
			dt := a.DataType
			if dt == "String.Array" {
				dt = "String" // SQS has no String.Array: the JSON array as a string
			}
			qa[k] = sqs.MessageAttributeValue{DataType: dt, StringValue: a.StringValue, BinaryValue: a.BinaryValue}
		}
	}
	_, err := s.sqs.SendMessage(ctx, queueARN, body, qa)
	return err
}

// sender gives the Event queue the local SQS and SNS.
type sender Server

func (d *sender) Send(ctx context.Context, arn string, body []byte, attrs map[string]invoke.MessageAttribute) error {
	s := (*Server)(d)
	if err := s.waitWired(ctx); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(arn, "arn:aws:sns:"):
		sa := make(map[string]sns.MessageAttribute, len(attrs))
		for k, a := range attrs {
			sa[k] = sns.MessageAttribute{DataType: a.DataType, StringValue: a.Value}
		}
		_, err := s.sns.Publish(ctx, arn, string(body), sa)
		return err
	case strings.HasPrefix(arn, "arn:aws:sqs:"):
		sa := make(map[string]sns.MessageAttribute, len(attrs))
		for k, a := range attrs {
			sa[k] = sns.MessageAttribute{DataType: a.DataType, StringValue: a.Value}
		}
		return (*queues)(s).SendMessage(ctx, arn, string(body), sa)
	}
	return fmt.Errorf("send to %s: not an SQS queue or SNS topic ARN", arn)
}

func (s *Server) waitWired(ctx context.Context) error {
	select {
	case <-s.wired:
		return nil
	case <-ctx.Done():
		return errors.New("the local Lambda is still starting")
	}
}
