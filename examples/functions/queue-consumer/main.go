// Command queue-consumer is an example Lambda function that consumes an
// SQS queue through an event source mapping with FunctionResponseTypes
// [ReportBatchItemFailures]. It processes each message of a batch and
// reports the ones it could not process, so that only those return to
// the queue:
//
//   - a body containing "fail" is a failed message (batchItemFailures);
//   - a body containing "crash" fails the whole invocation (an error), so
//     the whole batch returns;
//   - a body containing "slow" makes the invocation take 3 seconds more
//     (to watch a batch in flight);
//   - anything else is processed.
//
// When FAILURE_RATE is a number between 0 and 1, each invocation fails
// as a whole (an error, so its batch returns to the queue) with that
// probability, whatever its messages: a bad release of the consumer, for
// the queue-consumer canary (examples/pipelines/queue-consumer-canary.json,
// whose mapping takes one message per batch, so a failed batch is a
// failed message). CONSUMER_VERSION, if set, names the release in errors.
//
// When CONSUMER_LOG names a file, each processed message is appended to it
// as a line "VERSION REQUEST-ID MESSAGE-ID BODY" (the version that ran,
// the invocation's request ID), so that a test or a demo can see what
// was processed, in which batch and by which version.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

var logMu sync.Mutex

// failureRate is FAILURE_RATE, 0 when unset or not a number.
var failureRate, _ = strconv.ParseFloat(os.Getenv("FAILURE_RATE"), 64)

func handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	if failureRate > 0 && rand.Float64() < failureRate {
		return resp, fmt.Errorf("%s fails %d messages: FAILURE_RATE is %g", cmp.Or(os.Getenv("CONSUMER_VERSION"), "this release"), len(ev.Records), failureRate)
	}
	for _, r := range ev.Records {
		if strings.Contains(r.Body, "crash") {
			return resp, errors.New("message " + r.MessageId + " asks the whole batch to fail")
		}
	}
	requestID := "-"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	for _, r := range ev.Records {
		if strings.Contains(r.Body, "slow") {
			time.Sleep(3 * time.Second)
			break
		}
	}
	var processed []string
	for _, r := range ev.Records {
		if strings.Contains(r.Body, "fail") {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			continue
		}
		processed = append(processed, fmt.Sprintf("%s %s %s %s\n", os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"), requestID, r.MessageId, r.Body))
	}
	if path := os.Getenv("CONSUMER_LOG"); path != "" && len(processed) > 0 {
		logMu.Lock()
		defer logMu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return resp, fmt.Errorf("open CONSUMER_LOG: %w", err)
		}
		// One write per invocation: lines of concurrent invocations do not interleave.
		if _, err := f.WriteString(strings.Join(processed, "")); err != nil {
			f.Close()
			return resp, fmt.Errorf("write CONSUMER_LOG: %w", err)
		}
		if err := f.Close(); err != nil {
			return resp, fmt.Errorf("close CONSUMER_LOG: %w", err)
		}
	}
	fmt.Printf("processed %d of %d messages\n", len(processed), len(ev.Records))
	return resp, nil
}

func main() { lambda.Start(handle) }
