package control

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// This file holds the wire shapes of function configuration shared by
// CreateFunction, UpdateFunctionConfiguration and every operation that
// answers with a FunctionConfiguration, and the validation they share.

type environmentJSON struct {
	Variables map[string]string `json:"Variables"`
}

type deadLetterConfigJSON struct {
	TargetArn *string `json:"TargetArn,omitempty"`
}

type tracingConfigJSON struct {
	Mode string `json:"Mode"`
}

type ephemeralStorageJSON struct {
	Size int `json:"Size"`
}

type vpcConfigJSON struct {
	SubnetIds               []string `json:"SubnetIds"`
	SecurityGroupIds        []string `json:"SecurityGroupIds"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitempty"`
}

type snapStartJSON struct {
	ApplyOn string `json:"ApplyOn"`
}

type snapStartResponseJSON struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

// configFields are the configuration members CreateFunction and
// UpdateFunctionConfiguration share. Pointers tell "absent" from "zero",
// which matters for an update.
type configFields struct {
	Role             *string               `json:"Role"`
	Runtime          *string               `json:"Runtime"`
	Handler          *string               `json:"Handler"`
	Description      *string               `json:"Description"`
	Timeout          *int                  `json:"Timeout"`
	MemorySize       *int                  `json:"MemorySize"`
	Environment      *environmentJSON      `json:"Environment"`
	DeadLetterConfig *deadLetterConfigJSON `json:"DeadLetterConfig"`
	TracingConfig    *tracingConfigJSON    `json:"TracingConfig"`
	EphemeralStorage *ephemeralStorageJSON `json:"EphemeralStorage"`
	KMSKeyArn        *string               `json:"KMSKeyArn"`
	LoggingConfig    *loggingConfig        `json:"LoggingConfig"`

	// What the local Lambda cannot do; any non-empty value is refused.
	VpcConfig              *vpcConfigJSON  `json:"VpcConfig"`
	Layers                 []string        `json:"Layers"`
	FileSystemConfigs      json.RawMessage `json:"FileSystemConfigs"`
	ImageConfig            json.RawMessage `json:"ImageConfig"`
	SnapStart              *snapStartJSON  `json:"SnapStart"`
	CapacityProviderConfig json.RawMessage `json:"CapacityProviderConfig"`
	DurableConfig          json.RawMessage `json:"DurableConfig"`
	TenancyConfig          json.RawMessage `json:"TenancyConfig"`
}

func rawPresent(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}" && s != "[]"
}

// checkSupported refuses, with a clear message, what the local Lambda
// cannot do (ARCHITECTURE.md rule 2: never a silent success).
func (c *configFields) checkSupported() error {
	switch {
	case c.VpcConfig != nil && (len(c.VpcConfig.SubnetIds) > 0 || len(c.VpcConfig.SecurityGroupIds) > 0):
		return awserr.InvalidParameter("VpcConfig with subnets or security groups is not supported by the local Lambda: functions run as local processes on this machine's network. Leave VpcConfig out (or send empty SubnetIds and SecurityGroupIds).")
	case len(c.Layers) > 0:
		return awserr.InvalidParameter("Layers are not supported by the local Lambda: include the layer's files in the function's .zip package instead.")
	case rawPresent(c.FileSystemConfigs):
		return awserr.InvalidParameter("FileSystemConfigs (Amazon EFS) are not supported by the local Lambda.")
	case rawPresent(c.ImageConfig):
		return awserr.InvalidParameter("ImageConfig is not supported by the local Lambda: container images are not supported; deploy a .zip package.")
	case c.SnapStart != nil && c.SnapStart.ApplyOn != "" && c.SnapStart.ApplyOn != "None":
		return awserr.InvalidParameter("SnapStart is not supported by the local Lambda; set SnapStart.ApplyOn to None or leave it out.")
	case rawPresent(c.CapacityProviderConfig):
		return awserr.InvalidParameter("CapacityProviderConfig (Lambda Managed Instances) is not supported by the local Lambda.")
	case rawPresent(c.DurableConfig):
		return awserr.InvalidParameter("DurableConfig (durable functions) is not supported by the local Lambda.")
	case rawPresent(c.TenancyConfig):
		return awserr.InvalidParameter("TenancyConfig is not supported by the local Lambda.")
	}
	return nil
}

// apply copies the members present in c onto cfg.
func (c *configFields) apply(cfg *functionConfig) {
	if c.Role != nil {
		cfg.Role = *c.Role
	}
	if c.Runtime != nil {
		cfg.Runtime = *c.Runtime
	}
	if c.Handler != nil {
		cfg.Handler = *c.Handler
	}
	if c.Description != nil {
		cfg.Description = *c.Description
	}
	if c.Timeout != nil {
		cfg.Timeout = *c.Timeout
	}
	if c.MemorySize != nil {
		cfg.MemorySize = *c.MemorySize
	}
	if c.Environment != nil {
		cfg.Environment = maps.Clone(c.Environment.Variables)
		if len(cfg.Environment) == 0 {
			cfg.Environment = nil
		}
	}
	if c.DeadLetterConfig != nil {
		cfg.DeadLetterTargetArn = ""
		if c.DeadLetterConfig.TargetArn != nil {
			cfg.DeadLetterTargetArn = *c.DeadLetterConfig.TargetArn
		}
	}
	if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
		cfg.TracingMode = c.TracingConfig.Mode
	}
	if c.EphemeralStorage != nil {
		cfg.EphemeralStorage = c.EphemeralStorage.Size
	}
	if c.KMSKeyArn != nil {
		cfg.KMSKeyArn = *c.KMSKeyArn
	}
	if c.LoggingConfig != nil {
		lc := *c.LoggingConfig
		if lc.LogFormat == "" {
			lc.LogFormat = cfg.LoggingConfig.LogFormat
		}
		if lc.LogGroup == "" {
			lc.LogGroup = cfg.LoggingConfig.LogGroup
		}
		cfg.LoggingConfig = lc
	}
}

// defaultConfig is a new function's configuration before the request's
// members apply: AWS's defaults.
func defaultConfig(name string) functionConfig {
	return functionConfig{
		Timeout:          3,
		MemorySize:       128,
		TracingMode:      "PassThrough",
		Architectures:    []string{"x86_64"},
		EphemeralStorage: 512,
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
	}
}

// modelRuntimes is the Runtime enum of the Lambda model (aws-sdk-go-v2
// service/lambda v1.114.4). Whether a runtime can run on this machine is
// the data plane's CheckRuntime, asked when the function activates.
var modelRuntimes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range strings.Fields(`nodejs nodejs4.3 nodejs6.10 nodejs8.10 nodejs10.x nodejs12.x nodejs14.x nodejs16.x
		nodejs18.x nodejs20.x nodejs22.x nodejs24.x nodejs26.x java8 java8.al2 java11 java17 java21 java25 java8.al2023
		java11.al2023 java17.al2023 python2.7 python3.6 python3.7 python3.8 python3.9 python3.10 python3.11 python3.12
		python3.13 python3.14 python3.15 dotnetcore1.0 dotnetcore2.0 dotnetcore2.1 dotnetcore3.1 dotnet6 dotnet8 dotnet10
		nodejs4.3-edge go1.x ruby2.5 ruby2.7 ruby3.2 ruby3.3 ruby3.4 ruby4.0 provided provided.al2 provided.al2023`) {
		m[r] = true
	}
	return m
}()

// reservedEnvVars are the variables Lambda sets itself and refuses to let
// a function configure.
var reservedEnvVars = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// validateConfig checks a complete configuration as AWS does: model
// constraints are ValidationException, service rules
// InvalidParameterValueException.
func validateConfig(cfg *functionConfig) error {
	if !roleARNPattern().MatchString(cfg.Role) {
		return awserr.Validation(cfg.Role, "role", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	}
	if cfg.Runtime == "" || cfg.Handler == "" {
		return awserr.InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if !modelRuntimes[cfg.Runtime] {
		known := slices.Sorted(maps.Keys(modelRuntimes))
		return awserr.Validation(cfg.Runtime, "runtime", "Member must satisfy enum value set: ["+strings.Join(known, ", ")+"]")
	}
	if len(cfg.Handler) > 128 || strings.ContainsAny(cfg.Handler, " \t\r\n") {
		return awserr.Validation(cfg.Handler, "handler", `Member must satisfy regular expression pattern: [^\s]+ and have length less than or equal to 128`)
	}
	if len(cfg.Description) > 256 {
		return awserr.Validation(cfg.Description, "description", "Member must have length less than or equal to 256")
	}
	if cfg.Timeout < 1 {
		return awserr.Validation(cfg.Timeout, "timeout", "Member must have value greater than or equal to 1")
	}
	if cfg.Timeout > 900 {
		return awserr.InvalidParameter("Timeout is %d seconds; a function's timeout must be at most 900 seconds.", cfg.Timeout)
	}
	if cfg.MemorySize < 128 {
		return awserr.Validation(cfg.MemorySize, "memorySize", "Member must have value greater than or equal to 128")
	}
	if cfg.MemorySize > 10240 {
		return awserr.InvalidParameter("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240")
	}
	if cfg.EphemeralStorage < 512 || cfg.EphemeralStorage > 10240 {
		return awserr.Validation(cfg.EphemeralStorage, "ephemeralStorage.size", "Member must have value between 512 and 10240")
	}
	if len(cfg.Architectures) != 1 || (cfg.Architectures[0] != "x86_64" && cfg.Architectures[0] != "arm64") {
		return awserr.Validation("["+strings.Join(cfg.Architectures, ", ")+"]", "architectures",
			"Member must have length 1 and satisfy enum value set: [x86_64, arm64]")
	}
	if cfg.TracingMode != "Active" && cfg.TracingMode != "PassThrough" {
		return awserr.Validation(cfg.TracingMode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
	}
	if err := validateEnvironment(cfg.Environment); err != nil {
		return err
	}
	if t := cfg.DeadLetterTargetArn; t != "" {
		a, ok := parseARN(t)
		if !ok || (a.Service != "sqs" && a.Service != "sns") {
			return awserr.InvalidParameter("The DeadLetterConfig TargetArn %q is not an Amazon SQS queue or Amazon SNS topic ARN.", t)
		}
	}
	lc := cfg.LoggingConfig
	if lc.LogFormat != "Text" && lc.LogFormat != "JSON" {
		return awserr.Validation(lc.LogFormat, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]")
	}
	if lc.ApplicationLogLevel != "" || lc.SystemLogLevel != "" {
		if lc.LogFormat != "JSON" {
			return awserr.InvalidParameter("ApplicationLogLevel and SystemLogLevel require LogFormat JSON.")
		}
	}
	if l := lc.ApplicationLogLevel; l != "" && !slices.Contains([]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}, l) {
		return awserr.Validation(l, "loggingConfig.applicationLogLevel", "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]")
	}
	if l := lc.SystemLogLevel; l != "" && !slices.Contains([]string{"DEBUG", "INFO", "WARN"}, l) {
		return awserr.Validation(l, "loggingConfig.systemLogLevel", "Member must satisfy enum value set: [DEBUG, INFO, WARN]")
	}
	return nil
}

func validateEnvironment(env map[string]string) error {
	if len(env) == 0 {
		return nil
	}
	var reserved []string
	for k := range env {
		if !envVarNamePattern().MatchString(k) {
			return awserr.Validation(k, "environment.variables", `Map keys must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+`)
		}
		if reservedEnvVars[k] {
			reserved = append(reserved, k)
		}
	}
	if len(reserved) > 0 {
		sort.Strings(reserved)
		return awserr.InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	b, _ := json.Marshal(env)
	if len(b) > 4096 {
		return awserr.InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", b)
	}
	return nil
}

// functionConfiguration is the FunctionConfiguration shape.
type functionConfiguration struct {
	FunctionName               string                `json:"FunctionName"`
	FunctionArn                string                `json:"FunctionArn"`
	Runtime                    string                `json:"Runtime,omitempty"`
	Role                       string                `json:"Role"`
	Handler                    string                `json:"Handler,omitempty"`
	CodeSize                   int64                 `json:"CodeSize"`
	Description                string                `json:"Description"`
	Timeout                    int                   `json:"Timeout"`
	MemorySize                 int                   `json:"MemorySize"`
	LastModified               string                `json:"LastModified"`
	CodeSha256                 string                `json:"CodeSha256"`
	Version                    string                `json:"Version"`
	Environment                *environmentJSON      `json:"Environment,omitempty"`
	DeadLetterConfig           *deadLetterConfigJSON `json:"DeadLetterConfig,omitempty"`
	KMSKeyArn                  string                `json:"KMSKeyArn,omitempty"`
	TracingConfig              tracingConfigJSON     `json:"TracingConfig"`
	RevisionId                 string                `json:"RevisionId"`
	State                      string                `json:"State,omitempty"`
	StateReason                string                `json:"StateReason,omitempty"`
	StateReasonCode            string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType                string                `json:"PackageType"`
	Architectures              []string              `json:"Architectures"`
	EphemeralStorage           ephemeralStorageJSON  `json:"EphemeralStorage"`
	LoggingConfig              loggingConfig         `json:"LoggingConfig"`
	SnapStart                  snapStartResponseJSON `json:"SnapStart"`
}

// configuration renders a version of fn. arnQualifier is the qualifier the
// FunctionArn carries ("" for the unqualified ARN). ListFunctions leaves out
// the state members, as AWS does (withState false); every other operation
// sends State and LastUpdateStatus, which the SDK's waiters need.
func (a arns) configuration(fn *lambdaFunction, v *functionVersion, arnQualifier string, withState bool) functionConfiguration {
	c := functionConfiguration{
		FunctionName:     fn.Name,
		FunctionArn:      a.qualified(fn.Name, arnQualifier),
		Runtime:          v.Config.Runtime,
		Role:             v.Config.Role,
		Handler:          v.Config.Handler,
		CodeSize:         v.CodeSize,
		Description:      v.Config.Description,
		Timeout:          v.Config.Timeout,
		MemorySize:       v.Config.MemorySize,
		LastModified:     lastModifiedString(v.LastModified),
		CodeSha256:       v.CodeSha256,
		Version:          v.Version,
		KMSKeyArn:        v.Config.KMSKeyArn,
		TracingConfig:    tracingConfigJSON{Mode: v.Config.TracingMode},
		RevisionId:       v.RevisionID,
		PackageType:      "Zip",
		Architectures:    slices.Clone(v.Config.Architectures),
		EphemeralStorage: ephemeralStorageJSON{Size: v.Config.EphemeralStorage},
		LoggingConfig:    v.Config.LoggingConfig,
		SnapStart:        snapStartResponseJSON{ApplyOn: "None", OptimizationStatus: "Off"},
	}
	if len(v.Config.Environment) > 0 {
		c.Environment = &environmentJSON{Variables: maps.Clone(v.Config.Environment)}
	}
	if t := v.Config.DeadLetterTargetArn; t != "" {
		c.DeadLetterConfig = &deadLetterConfigJSON{TargetArn: &t}
	}
	if withState {
		c.State = string(v.State)
		c.StateReason = v.StateReason
		c.StateReasonCode = v.StateReasonCode
		c.LastUpdateStatus = string(v.LastUpdateStatus)
		c.LastUpdateStatusReason = v.LastUpdateStatusReason
		c.LastUpdateStatusReasonCode = v.LastUpdateStatusReasonCode
	}
	return c
}

// validateTags checks tags as AWS's tagging rules require.
func validateTags(tags map[string]string, existing int) error {
	if existing+len(tags) > 50 {
		return awserr.InvalidParameter("A resource can have at most 50 tags; this request would give it %d.", existing+len(tags))
	}
	for k, v := range tags {
		if len(k) < 1 || len(k) > 128 {
			return awserr.InvalidParameter("Tag key %q must be 1 to 128 characters long.", k)
		}
		if len(v) > 256 {
			return awserr.InvalidParameter("The value of tag %q must be at most 256 characters long.", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return awserr.InvalidParameter("Tag key %q uses the reserved prefix aws:.", k)
		}
	}
	return nil
}

// stateConflict is AWS's conflict message for an operation on a function
// that is not ready.
func stateConflict(st functionState) error {
	return awserr.ResourceConflict("The operation cannot be performed at this time. The function is currently in the following state: %s", st)
}

// updateConflict is AWS's conflict message while an update runs.
func updateConflict(arn string) error {
	return awserr.ResourceConflict("The operation cannot be performed at this time. An update is in progress for resource: %s", arn)
}

// checkUpdatable answers the 409 AWS gives when a function is still being
// created or updated.
func (a arns) checkUpdatable(fn *lambdaFunction) error {
	if fn.Latest.State == functionPending {
		return stateConflict(fn.Latest.State)
	}
	if fn.Latest.LastUpdateStatus == updateInProgress {
		return updateConflict(a.function(fn.Name))
	}
	return nil
}

func fmtWeights(w map[string]float64) string {
	keys := slices.Sorted(maps.Keys(w))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, w[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
