// Command probe is a test function of the Lambda stages' tests. Unlike
// examples/functions/hello its answer is deterministic, and the event
// steers it:
//
//	{"sleepMs": N}     sleep N milliseconds first
//	{"fail": "text"}   fail with that error message
//	{"raw": "text"}    answer exactly that text (it must be JSON)
//
// Otherwise it answers {"version": $PROBE_VERSION, "event": event}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	version := os.Getenv("PROBE_VERSION")
	lambda.Start(func(ctx context.Context, event map[string]any) (json.RawMessage, error) {
		if ms, ok := event["sleepMs"].(float64); ok && ms > 0 {
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if msg, ok := event["fail"].(string); ok {
			return nil, errors.New(msg)
		}
		if raw, ok := event["raw"].(string); ok {
			return json.RawMessage(raw), nil
		}
		return json.Marshal(map[string]any{"version": version, "event": event})
	})
}
