package lambda

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// functionFields are what a Deploy stage asks of its function's
// configuration. A field the stage leaves out is left as it is in AWS; a
// field set to an empty value ({}, [], "") clears it — except tags, where
// Clouddriver leaves the tags alone when the map is empty (clearTags
// removes them).
type functionFields struct {
	Runtime          stage.StringField    `json:"runtime" hint:"e.g. provided.al2023, python3.12, nodejs22.x"`
	Handler          stage.StringField    `json:"handler"`
	Role             stage.StringField    `json:"role" hint:"the execution role ARN, e.g. arn:aws:iam::123456789012:role/my-function"`
	Description      stage.StringField    `json:"description"`
	MemorySize       stage.IntField       `json:"memorySize" hint:"MB"`
	Timeout          stage.IntField       `json:"timeout" hint:"seconds"`
	EphemeralStorage stage.IntField       `json:"ephemeralStorage" hint:"MB of /tmp"`
	EnvVariables     stage.StringMapField `json:"envVariables" hint:"absent leaves the variables as they are; {} removes them all"`
	Tags             stage.StringMapField `json:"tags" hint:"replaces the function's tags; absent or {} leaves them as they are (as Clouddriver)"`
	// ClearTags is Sluice's way to remove every tag, opt-in: Clouddriver
	// leaves the tags alone when tags is empty, and Deck writes {} by
	// default.
	ClearTags        stage.BoolField    `json:"clearTags" hint:"Sluice: with tags absent or {}, remove every tag"`
	Layers           stage.StringsField `json:"layers"`
	Architectures    stage.StringsField `json:"architectures" hint:"[\"x86_64\"] or [\"arm64\"]"`
	SubnetIDs        stage.StringsField `json:"subnetIds"`
	SecurityGroupIDs stage.StringsField `json:"securityGroupIds"`
	DeadLetterConfig struct {
		stage.Field
		TargetArn stage.StringField `json:"targetArn"`
	} `json:"deadLetterConfig"`
	TracingConfig struct {
		stage.Field
		Mode stage.StringField `json:"mode"`
	} `json:"tracingConfig"`
	// The plugin reads kmskeyArn; its Deck form writes encryptionKMSKeyArn
	// and its templates KMSKeyArn. Any of them works here; a non-empty one
	// wins over empty ones.
	KMSKeyArn           stage.StringField `json:"kmskeyArn" hint:"KMS key of the environment variables; \"\" means Lambda's default key"`
	KMSKeyArnCamel      stage.StringField `json:"kmsKeyArn"`
	KMSKeyArnUpper      stage.StringField `json:"KMSKeyArn"`
	EncryptionKMSKeyArn stage.StringField `json:"encryptionKMSKeyArn"`

	ReservedConcurrentExecutions clearableInt `json:"reservedConcurrentExecutions" hint:"absent leaves it as it is; \"\" or null removes the reservation"`
}

var roleARNPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$`) })

func (s *functionFields) check(c *stage.Checker) {
	c.Valid(&s.Role, roleARNPattern().MatchString)
	c.Range(&s.MemorySize, 128, 10240)
	c.Range(&s.Timeout, 1, 900)
	c.Range(&s.EphemeralStorage, 512, 10240)
	checkArchitectures(c, &s.Architectures)
	c.OneOf(&s.TracingConfig.Mode, "Active", "PassThrough")
	c.Range(&s.ReservedConcurrentExecutions.IntField, 0, math.MaxInt32)
}

// clearableInt is a whole number that "" (as well as null) clears.
type clearableInt struct {
	stage.IntField
	empty bool // the stage wrote ""
}

func (n *clearableInt) DecodeField(v any) error {
	if v == "" {
		n.empty = true
		return nil
	}
	return n.IntField.DecodeField(v)
}

// cleared reports whether the stage sets the field to null or "".
func (n *clearableInt) cleared() bool { return n.Null() || n.Set() && n.empty }

// checkArchitectures checks an architectures field: one of x86_64 and
// arm64.
func checkArchitectures(c *stage.Checker, f *stage.StringsField) {
	for i, a := range f.Value {
		if a != string(types.ArchitectureX8664) && a != string(types.ArchitectureArm64) {
			c.Add(stage.FieldError{Field: fmt.Sprintf("%s[%d]", f.Path(), i), Msg: fmt.Sprintf("%q is not x86_64 or arm64", a)})
		}
	}
	if len(f.Value) > 1 {
		c.Errorf(f, "takes one architecture, x86_64 or arm64, not %d", len(f.Value))
	}
}

// architectures is the value of an architectures field.
func architectures(f *stage.StringsField) []types.Architecture {
	var out []types.Architecture
	for _, a := range f.Value {
		out = append(out, types.Architecture(a))
	}
	return out
}

// optString is f's value, or nil when the stage does not set f.
func optString(f *stage.StringField) *string {
	if !f.Set() {
		return nil
	}
	return aws.String(f.Value)
}

// optInt32 is f's value, or nil when the stage does not set f.
func optInt32(f *stage.IntField) *int32 {
	if !f.Set() {
		return nil
	}
	return aws.Int32(int32(f.Value))
}

// kmsKey is the KMS key the stage asks for ("" for Lambda's default), or
// nil when it names none.
func (s *functionFields) kmsKey() *string {
	var key *string
	for _, f := range []*stage.StringField{&s.KMSKeyArn, &s.KMSKeyArnCamel, &s.KMSKeyArnUpper, &s.EncryptionKMSKeyArn} {
		if f.Set() && aws.ToString(key) == "" {
			key = aws.String(strings.TrimSpace(f.Value))
		}
	}
	return key
}

// deadLetterTarget is the dead-letter queue the stage asks for ("" for
// none), or nil when it leaves it as it is.
func (s *functionFields) deadLetterTarget() *string {
	if !s.DeadLetterConfig.Set() {
		return nil
	}
	return aws.String(s.DeadLetterConfig.TargetArn.Value)
}

// tracingMode is the tracing mode the stage asks for, or nil.
func (s *functionFields) tracingMode() *string {
	if !s.TracingConfig.Set() {
		return nil
	}
	return aws.String(cmp.Or(s.TracingConfig.Mode.Value, string(types.TracingModePassThrough)))
}

// vpcSet reports whether the stage manages the function's VPC.
func (s *functionFields) vpcSet() bool { return s.SubnetIDs.Present() || s.SecurityGroupIDs.Present() }

// createInput is the CreateFunction request for function name, which does
// not exist yet, with code.
func (s *functionFields) createInput(name string, code *codeSource) (*lambda.CreateFunctionInput, error) {
	if code == nil {
		return nil, fail("%s does not exist, and this stage gives no code to create it with: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)", name)
	}
	var missing []string
	if s.Role.Value == "" {
		missing = append(missing, "role (the execution role ARN)")
	}
	if code.imageURI == "" {
		if s.Runtime.Value == "" {
			missing = append(missing, "runtime")
		}
		if s.Handler.Value == "" {
			missing = append(missing, "handler")
		}
	}
	if len(missing) > 0 {
		return nil, fail("creating function %s needs %s", name, strings.Join(missing, ", "))
	}
	fc, err := code.functionCode()
	if err != nil {
		return nil, err
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Code:          fc,
		Role:          aws.String(s.Role.Value),
		Handler:       nonEmpty(optString(&s.Handler)),
		Description:   optString(&s.Description),
		MemorySize:    optInt32(&s.MemorySize),
		Timeout:       optInt32(&s.Timeout),
		Architectures: architectures(&s.Architectures),
		Publish:       false, // the publishVersion task publishes, once
	}
	if code.imageURI != "" {
		in.PackageType = types.PackageTypeImage
	} else {
		in.Runtime = types.Runtime(s.Runtime.Value)
	}
	if env := s.EnvVariables.Value; len(env) > 0 {
		in.Environment = &types.Environment{Variables: env}
	}
	if tags := s.Tags.Value; len(tags) > 0 {
		in.Tags = tags
	}
	if layers := s.Layers.Value; len(layers) > 0 {
		in.Layers = layers
	}
	if mb := optInt32(&s.EphemeralStorage); mb != nil {
		in.EphemeralStorage = &types.EphemeralStorage{Size: mb}
	}
	if subnets, sgs := s.SubnetIDs.Value, s.SecurityGroupIDs.Value; len(subnets) > 0 || len(sgs) > 0 {
		in.VpcConfig = &types.VpcConfig{SubnetIds: subnets, SecurityGroupIds: sgs}
	}
	if dlq := s.deadLetterTarget(); aws.ToString(dlq) != "" {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: dlq}
	}
	if mode := s.tracingMode(); mode != nil {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingMode(*mode)}
	}
	if kms := s.kmsKey(); aws.ToString(kms) != "" {
		in.KMSKeyArn = kms
	}
	return in, nil
}

func nonEmpty(s *string) *string {
	if aws.ToString(s) == "" {
		return nil
	}
	return s
}

// fieldChange is one configuration field a Deploy stage changes: what
// AWS has and what the stage asks. The run sends the change; a plan shows
// it.
type fieldChange struct {
	Field    string
	Old, New any
}

// fieldNames are the changes' field names.
func fieldNames(changes []fieldChange) []string {
	names := make([]string, len(changes))
	for i, c := range changes {
		names[i] = c.Field
	}
	return names
}

// configUpdate is the UpdateFunctionConfiguration request that brings c
// to what the stage asks, and the fields that differ (with their old and
// new values); nil when none does. Deploy's updateConfiguration sends it;
// its plan shows the changes, so that the two cannot disagree.
func (s *functionFields) configUpdate(name string, c *types.FunctionConfiguration) (*lambda.UpdateFunctionConfigurationInput, []fieldChange) {
	in := &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), RevisionId: nonEmpty(c.RevisionId)}
	var changed []fieldChange
	add := func(field string, old, new any) { changed = append(changed, fieldChange{field, old, new}) }
	strDiff := func(field string, want *string, have string, set func(*string)) {
		if want != nil && *want != have {
			set(want)
			add(field, have, *want)
		}
	}
	strDiff("runtime", optString(&s.Runtime), string(c.Runtime), func(v *string) { in.Runtime = types.Runtime(*v) })
	strDiff("handler", optString(&s.Handler), aws.ToString(c.Handler), func(v *string) { in.Handler = v })
	strDiff("role", optString(&s.Role), aws.ToString(c.Role), func(v *string) { in.Role = v })
	strDiff("description", optString(&s.Description), aws.ToString(c.Description), func(v *string) { in.Description = v })
	strDiff("kmskeyArn", s.kmsKey(), aws.ToString(c.KMSKeyArn), func(v *string) { in.KMSKeyArn = v })
	if mb := optInt32(&s.MemorySize); mb != nil && *mb != aws.ToInt32(c.MemorySize) {
		in.MemorySize = mb
		add("memorySize", aws.ToInt32(c.MemorySize), *mb)
	}
	if secs := optInt32(&s.Timeout); secs != nil && *secs != aws.ToInt32(c.Timeout) {
		in.Timeout = secs
		add("timeout", aws.ToInt32(c.Timeout), *secs)
	}
	if mb := optInt32(&s.EphemeralStorage); mb != nil {
		have := int32(512)
		if c.EphemeralStorage != nil {
			have = aws.ToInt32(c.EphemeralStorage.Size)
		}
		if have != *mb {
			in.EphemeralStorage = &types.EphemeralStorage{Size: mb}
			add("ephemeralStorage", have, *mb)
		}
	}
	if s.EnvVariables.Present() {
		var have map[string]string
		if c.Environment != nil {
			have = c.Environment.Variables
		}
		want := emptyIfNil(s.EnvVariables.Value)
		if !maps.Equal(emptyIfNil(have), want) {
			in.Environment = &types.Environment{Variables: want}
			add("envVariables", emptyIfNil(have), want)
		}
	}
	if s.Layers.Present() {
		have := []string{}
		for _, l := range c.Layers {
			have = append(have, aws.ToString(l.Arn))
		}
		if want := s.Layers.Value; !slices.Equal(have, want) && !(len(have) == 0 && len(want) == 0) {
			in.Layers = append([]string{}, want...)
			add("layers", have, in.Layers)
		}
	}
	if s.vpcSet() {
		var hs, hg []string
		if c.VpcConfig != nil {
			hs, hg = c.VpcConfig.SubnetIds, c.VpcConfig.SecurityGroupIds
		}
		subnets, sgs := s.SubnetIDs.Value, s.SecurityGroupIDs.Value
		if !sameSet(hs, subnets) || !sameSet(hg, sgs) {
			in.VpcConfig = &types.VpcConfig{SubnetIds: append([]string{}, subnets...), SecurityGroupIds: append([]string{}, sgs...)}
			add("subnetIds/securityGroupIds", map[string]any{"subnetIds": hs, "securityGroupIds": hg},
				map[string]any{"subnetIds": subnets, "securityGroupIds": sgs})
		}
	}
	if dlq := s.deadLetterTarget(); dlq != nil {
		have := ""
		if c.DeadLetterConfig != nil {
			have = aws.ToString(c.DeadLetterConfig.TargetArn)
		}
		if have != *dlq {
			in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: dlq}
			add("deadLetterConfig", have, *dlq)
		}
	}
	if mode := s.tracingMode(); mode != nil {
		have := string(types.TracingModePassThrough)
		if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
			have = string(c.TracingConfig.Mode)
		}
		if have != *mode {
			in.TracingConfig = &types.TracingConfig{Mode: types.TracingMode(*mode)}
			add("tracingConfig", have, *mode)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return in, changed
}

// tagChanges is what brings the function's tags (have) to the stage's: as
// Clouddriver, a non-empty tags replaces them; empty or absent leaves them,
// unless clearTags asks. Tags AWS sets (aws:…) are never removed.
func (s *functionFields) tagChanges(have map[string]string) (set map[string]string, remove []string) {
	if len(s.Tags.Value) == 0 && !s.ClearTags.Value {
		return nil, nil
	}
	tags := s.Tags.Value
	for k := range have {
		if _, keep := tags[k]; !keep && !strings.HasPrefix(k, "aws:") {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	set = map[string]string{}
	for k, v := range tags {
		if old, ok := have[k]; !ok || old != v {
			set[k] = v
		}
	}
	return set, remove
}

// concurrencyChange is what brings the function's reserved concurrency
// (have; nil when none) to the stage's: as Orca, absent deletes the
// reservation (LambdaDeleteConcurrencyTask), unless leaveAbsent. It
// reports whether the stage changes it, and to what (nil: deleted).
func (s *deploySpec) concurrencyChange(have *int32) (change bool, want *int32) {
	rc := &s.ReservedConcurrentExecutions
	if !rc.Present() && s.LeaveAbsent.Value {
		return false, nil
	}
	if rc.cleared() || !rc.Present() {
		return have != nil, nil
	}
	w := int32(rc.Value)
	return have == nil || *have != w, &w
}

func emptyIfNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
