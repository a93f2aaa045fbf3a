package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// What asynchronous invocation sends elsewhere: invocation records to
// OnSuccess/OnFailure destinations and failed events to dead-letter
// queues, as AWS sends them. A Lambda destination is an Event invocation
// of that function through this queue; SQS queues and SNS topics are
// Config.Sender's.

// Sender delivers messages to SQS queues and SNS topics for the Event
// queue: the local Lambda's SQS and SNS services behind one method, picked
// by the ARN's service.
type Sender interface {
	// Send puts body in the queue or publishes it to the topic arn, with
	// message attributes attrs (nil for none).
	Send(ctx context.Context, arn string, body []byte, attrs map[string]MessageAttribute) error
}

// MessageAttribute is an SQS or SNS message attribute: DataType "String"
// or "Number" and its value.
type MessageAttribute struct {
	DataType, Value string
}

// InvocationRecord is what a destination receives: AWS's record of an
// asynchronous invocation.
type InvocationRecord struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  RecordRequest    `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *RecordResponse  `json:"responseContext,omitempty"`
	ResponsePayload *json.RawMessage `json:"responsePayload,omitempty"`
}

// RecordRequest is an invocation record's requestContext.
type RecordRequest struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// RecordResponse is an invocation record's responseContext.
type RecordResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// InvokeAsync queues an Event invocation of function (a name or ARN,
// optionally ":qualifier") with payload, as Invoke with
// InvocationType=Event does, and returns its request ID. It is how other
// local services (SNS) invoke functions: the event is on disk when it
// returns, and runs with the function's retries, destinations and
// dead-letter queue. Errors are *awserr.Error values (an unknown function
// is ResourceNotFoundException).
func (iv *Invoker) InvokeAsync(ctx context.Context, function string, payload []byte) (string, error) {
	if iv.isClosed() {
		return "", fmt.Errorf("invoke %s: the local Lambda is shutting down", function)
	}
	target, err := iv.cfg.Resolver.ResolveInvoke(ctx, function, "")
	if err != nil {
		return "", err
	}
	if target == nil || target.Primary == nil {
		return "", fmt.Errorf("invoke %s: function not found", function)
	}
	id := uuid.NewString()
	if err := iv.async.enqueue(asyncEvent{ID: id, Function: function, Payload: payload, Enqueued: iv.cfg.Now()}); err != nil {
		return "", fmt.Errorf("queue the event for %s: %w", function, err)
	}
	return id, nil
}

// sendRecord sends the invocation record of ev to the destination arn.
// out is the last run (nil when the event never ran); attempts is
// approximateInvokeCount.
func (q *asyncQueue) sendRecord(arn string, ev *asyncEvent, target *Target, condition string, attempts int, out *invokeOutcome) {
	rec := InvocationRecord{
		Version:   "1.0",
		Timestamp: q.iv.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordRequest{
			RequestID: ev.ID, FunctionARN: invokedARN(target), Condition: condition, ApproximateInvokeCount: attempts,
		},
		RequestPayload: ev.Payload,
	}
	if out != nil {
		rec.ResponseContext = &RecordResponse{StatusCode: 200, ExecutedVersion: out.version}
		if out.functionError != "" {
			rec.ResponseContext.FunctionError = out.functionError
		}
		if len(out.body) > 0 {
			p := json.RawMessage(append([]byte(nil), out.body...))
			if !json.Valid(p) {
				b, _ := json.Marshal(string(out.body))
				p = b
			}
			rec.ResponsePayload = &p
		}
	}
	body, err := json.Marshal(rec)
	if err != nil {
		q.iv.log.Error("local lambda: encode an invocation record", "id", ev.ID, "err", err)
		return
	}
	q.deliver(arn, ev, body, nil, "destination")
}

// sendDeadLetter sends ev's payload to the dead-letter queue or topic arn
// with AWS's attributes RequestID, ErrorCode and ErrorMessage.
func (q *asyncQueue) sendDeadLetter(arn string, ev *asyncEvent, out *invokeOutcome) {
	attrs := map[string]MessageAttribute{"RequestID": {DataType: "String", Value: ev.ID}}
	if out != nil {
		attrs["ErrorCode"] = MessageAttribute{DataType: "Number", Value: strconv.Itoa(200)}
		msg := string(out.body)
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(out.body, &fe) == nil && fe.ErrorMessage != "" {
			msg = fe.ErrorMessage
		}
		if msg != "" {
			attrs["ErrorMessage"] = MessageAttribute{DataType: "String", Value: msg}
		}
	}
	q.deliver(arn, ev, ev.Payload, attrs, "dead-letter queue")
}

// deliver sends body to arn: a Lambda function through this queue, an SQS
// queue or SNS topic through Config.Sender. A failure is logged and
// counted, as AWS counts DestinationDeliveryFailures and
// DeadLetterErrors; the event is not retried for it.
func (q *asyncQueue) deliver(arn string, ev *asyncEvent, body []byte, attrs map[string]MessageAttribute, what string) {
	iv := q.iv
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch service := arnService(arn); service {
	case "lambda":
		err = iv.async.enqueue(asyncEvent{ID: uuid.NewString(), Function: arn, Payload: body, Enqueued: iv.cfg.Now()})
	case "sqs", "sns":
		if iv.cfg.Sender == nil {
			err = fmt.Errorf("no %s service is configured", strings.ToUpper(service))
			break
		}
		err = iv.cfg.Sender.Send(ctx, arn, body, attrs)
	default:
		err = fmt.Errorf("the local Lambda delivers to SQS queues, SNS topics and Lambda functions, not to %q", arn)
	}
	if err != nil {
		iv.log.Error("local lambda: deliver to the "+what, "function", ev.Function, "id", ev.ID, "target", arn, "err", err)
		iv.metrics.deliveryFailures.WithLabelValues(functionNameOf(ev.Function), what).Inc()
		return
	}
	iv.log.Debug("local lambda: delivered to the "+what, "function", ev.Function, "id", ev.ID, "target", arn)
}

// invokedARN is the function ARN a record names: the ARN as invoked, with
// $LATEST for an unqualified one.
func invokedARN(target *Target) string {
	if target == nil {
		return ""
	}
	if qualifierOf(target.InvokedARN) == "" {
		return target.InvokedARN + ":$LATEST"
	}
	return target.InvokedARN
}

// arnService is the service of an ARN (arn:aws:SERVICE:…), "" if it is
// not one.
func arnService(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 4 || parts[0] != "arn" {
		return ""
	}
	return parts[2]
}
