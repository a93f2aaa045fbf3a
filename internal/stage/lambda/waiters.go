package lambda

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// getFunction reads the function's $LATEST configuration (with tags and
// concurrency). found is false when the function does not exist.
func getFunction(ctx context.Context, f *function) (out *lambda.GetFunctionOutput, found bool, err error) {
	out, err = f.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name)})
	if err != nil {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, apiError(f, "GetFunction", err)
	}
	if out.Configuration == nil {
		return nil, false, fail("GetFunction of %s: the response carries no Configuration", f)
	}
	return out, true, nil
}

// stateMessage describes a function's State and LastUpdateStatus for
// errors, with AWS's reasons.
func stateMessage(c *types.FunctionConfiguration) string {
	s := fmt.Sprintf("State %s", orNone(string(c.State)))
	if r := aws.ToString(c.StateReason); r != "" || c.StateReasonCode != "" {
		s += fmt.Sprintf(" (%s: %s)", orNone(string(c.StateReasonCode)), orNone(r))
	}
	s += fmt.Sprintf(", LastUpdateStatus %s", orNone(string(c.LastUpdateStatus)))
	if r := aws.ToString(c.LastUpdateStatusReason); (r != "" || c.LastUpdateStatusReasonCode != "") && r != aws.ToString(c.StateReason) {
		s += fmt.Sprintf(" (%s: %s)", orNone(string(c.LastUpdateStatusReasonCode)), orNone(r))
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// waitActive checks once that the function's State is Active (the
// acceptors of the SDK's FunctionActiveV2 waiter: Active succeeds, Failed
// fails, Pending waits).
func waitActive(ctx context.Context, f *function) (*types.FunctionConfiguration, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, retry("%s does not exist yet", f)
	}
	c := out.Configuration
	switch c.State {
	case types.StateActive:
		return c, nil
	case types.StateFailed:
		return nil, fail("%s failed to become active: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	}
	return nil, retry("waiting for %s to become Active: %s", f, stateMessage(c))
}

// waitUpdated checks once that the function's last update finished (the
// acceptors of FunctionUpdatedV2: LastUpdateStatus Successful succeeds,
// Failed fails, InProgress waits). A function that is still Pending waits
// too.
func waitUpdated(ctx context.Context, f *function) (*types.FunctionConfiguration, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	c := out.Configuration
	switch {
	case c.State == types.StateFailed:
		return nil, fail("%s is in State Failed: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	case c.LastUpdateStatus == types.LastUpdateStatusFailed:
		return nil, fail("the last update of %s failed: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	case c.State == types.StatePending || c.LastUpdateStatus == types.LastUpdateStatusInProgress:
		return nil, retry("waiting for the update of %s to finish: %s", f, stateMessage(c))
	}
	return c, nil
}

// waitVersionActive checks once that a published version is Active (the
// acceptors of PublishedVersionActive).
func waitVersionActive(ctx context.Context, f *function, version string) (*types.FunctionConfiguration, error) {
	c, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	if err != nil {
		if isNotFound(err) {
			return nil, fail("version %s of %s does not exist (was it deleted while the stage ran?)", version, f)
		}
		return nil, apiError(f, "GetFunctionConfiguration", err)
	}
	switch c.State {
	case types.StateActive:
		return functionConfiguration(c), nil
	case types.StateFailed:
		return nil, fail("version %s of %s failed to become active: %s", version, f, stateMessage(functionConfiguration(c)))
	}
	return nil, retry("waiting for version %s of %s to become Active: %s", version, f, stateMessage(functionConfiguration(c)))
}

// functionConfiguration converts GetFunctionConfiguration's output (the
// same shape) to a FunctionConfiguration.
func functionConfiguration(o *lambda.GetFunctionConfigurationOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		Architectures: o.Architectures, CodeSha256: o.CodeSha256, CodeSize: o.CodeSize,
		DeadLetterConfig: o.DeadLetterConfig, Description: o.Description, Environment: o.Environment,
		EphemeralStorage: o.EphemeralStorage, FunctionArn: o.FunctionArn, FunctionName: o.FunctionName,
		Handler: o.Handler, ImageConfigResponse: o.ImageConfigResponse, KMSKeyArn: o.KMSKeyArn,
		LastModified: o.LastModified, LastUpdateStatus: o.LastUpdateStatus,
		LastUpdateStatusReason: o.LastUpdateStatusReason, LastUpdateStatusReasonCode: o.LastUpdateStatusReasonCode,
		Layers: o.Layers, LoggingConfig: o.LoggingConfig, MemorySize: o.MemorySize, PackageType: o.PackageType,
		RevisionId: o.RevisionId, Role: o.Role, Runtime: o.Runtime, State: o.State, StateReason: o.StateReason,
		StateReasonCode: o.StateReasonCode, Timeout: o.Timeout, TracingConfig: o.TracingConfig,
		Version: o.Version, VpcConfig: o.VpcConfig,
	}
}
