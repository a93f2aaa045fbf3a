package control

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestEventSourceMappings(t *testing.T) {
	t.Parallel()
	gate := lambdatest.NewActivationGate()
	gate.Open()
	cs := newCtlServer(t, withGate(gate))
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("consumer", lambdatest.BootstrapZip(t, "c")))
	cs.Publish(t, "consumer")
	const queue = "arn:aws:sqs:us-east-1:000000000000:jobs"
	const stream = "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"

	// Validation per source type.
	bad := []struct {
		in   *lambda.CreateEventSourceMappingInput
		want string
	}{
		{&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(queue), BatchSize: aws.Int32(100)},
			"Maximum batch window in seconds must be greater than 0"},
		{&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(queue), StartingPosition: types.EventSourcePositionLatest},
			"StartingPosition is not valid for Amazon SQS"},
		{&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(stream)},
			"StartingPosition is required"},
		{&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(queue),
			DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(queue)}}},
			"OnSuccess is not supported"},
	}
	for _, b := range bad {
		_, err := cs.Lambda.CreateEventSourceMapping(ctx, b.in)
		lambdatest.WantError[*types.InvalidParameterValueException](t, err, b.want)
	}
	_, err := cs.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("nope"), EventSourceArn: aws.String(queue)})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")

	// Creating → Enabled, visibly.
	gate.Hold()
	created, err := cs.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("consumer:1"), EventSourceArn: aws.String(queue),
		FilterCriteria: &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"body":{"x":[1]}}`)}}},
		Tags:           map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	id := aws.ToString(created.UUID)
	if len(id) != 36 || aws.ToString(created.State) != "Creating" || aws.ToInt32(created.BatchSize) != 10 ||
		aws.ToString(created.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:consumer:1" ||
		created.LastModified == nil || time.Since(*created.LastModified) > time.Minute ||
		created.FilterCriteria == nil || len(created.FilterCriteria.Filters) != 1 {
		t.Errorf("CreateEventSourceMapping = %+v", created)
	}
	_, err = cs.Lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(id)})
	lambdatest.WantError[*types.ResourceInUseException](t, err, "Creating")
	gate.Open()
	waitMapping(t, cs, id, "Enabled")

	_, err = cs.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(queue)})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "provided mapping already exists. Please update or delete the existing mapping with UUID "+id)

	upd, err := cs.Lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(id), Enabled: aws.Bool(false), BatchSize: aws.Int32(5)})
	if err != nil {
		t.Fatalf("UpdateEventSourceMapping: %v", err)
	}
	if aws.ToInt32(upd.BatchSize) != 5 {
		t.Errorf("BatchSize = %d", aws.ToInt32(upd.BatchSize))
	}
	waitMapping(t, cs, id, "Disabled")

	other, err := cs.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"),
		EventSourceArn: aws.String(stream), StartingPosition: types.EventSourcePositionTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(other.BatchSize) != 100 {
		t.Errorf("Kinesis default BatchSize = %d; want 100", aws.ToInt32(other.BatchSize))
	}
	waitMapping(t, cs, aws.ToString(other.UUID), "Enabled")

	list, err := cs.Lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("consumer")})
	if err != nil || len(list.EventSourceMappings) != 2 {
		t.Fatalf("ListEventSourceMappings = %+v, %v", list, err)
	}
	list, err = cs.Lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(stream)})
	if err != nil || len(list.EventSourceMappings) != 1 || aws.ToString(list.EventSourceMappings[0].UUID) != aws.ToString(other.UUID) {
		t.Fatalf("ListEventSourceMappings(stream) = %+v, %v", list, err)
	}
	tags, err := cs.Lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: created.EventSourceMappingArn})
	if err != nil || !maps.Equal(tags.Tags, map[string]string{"k": "v"}) {
		t.Errorf("ListTags(ESM) = %v, %v", tags, err)
	}

	del, err := cs.Lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(id)})
	if err != nil || aws.ToString(del.State) != "Deleting" {
		t.Fatalf("DeleteEventSourceMapping = %v, %v", del, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cs.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(id)})
		if err != nil {
			lambdatest.WantError[*types.ResourceNotFoundException](t, err, "The resource you requested does not exist.")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted mapping did not go away")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitMapping polls a mapping until it reaches state.
func waitMapping(t *testing.T, cs *ctlServer, id, state string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := cs.Lambda.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: aws.String(id)})
		if err != nil {
			t.Fatalf("GetEventSourceMapping: %v", err)
		}
		if aws.ToString(got.State) == state {
			if !strings.Contains(aws.ToString(got.LastProcessingResult), "No records processed") {
				t.Errorf("LastProcessingResult = %q", aws.ToString(got.LastProcessingResult))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mapping %s is %s; want %s", id, aws.ToString(got.State), state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
