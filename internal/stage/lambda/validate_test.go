package lambda

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/stage"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	types := map[string]stage.Type{}
	for _, typ := range Types(Options{}) {
		types[typ.Name()] = typ
	}
	base := func(extra map[string]any) map[string]any {
		f := map[string]any{"functionName": "orders", "s3bucket": "b", "s3key": "k.zip"}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		typ    string
		fields map[string]any
		want   []string // "field: message fragment", every one expected; none means valid
	}{
		{"deploy ok", DeployTypeName, base(map[string]any{"memorySize": 512, "timeout": "30", "publish": true, "aliases": "live",
			"triggerArns": []any{"arn:aws-cn:sqs:cn-north-1:123456789012:q"}, "envVariables": map[string]any{"PORT": 8080},
			"reservedConcurrentExecutions": "", "tracingConfig": map[string]any{"mode": "Active"}}), nil},
		{"deploy expressions not type-checked", DeployTypeName, base(map[string]any{"memorySize": "${parameters.mem}", "timeout": "${x}",
			"triggerArns": "${arns}", "version": "x"}), nil},
		{"deploy ranges", DeployTypeName, base(map[string]any{"memorySize": 64, "timeout": 901, "ephemeralStorage": 100, "retainVersions": 0}),
			[]string{"memorySize: must be at least 128, not 64", "timeout: must be at most 900, not 901",
				"ephemeralStorage: must be at least 512", "retainVersions: must be at least 1, not 0"}},
		{"deploy types", DeployTypeName, base(map[string]any{"memorySize": "lots", "publish": "yes", "envVariables": []any{"A=1"},
			"tags": map[string]any{"t": map[string]any{}}, "aliases": 3, "timeout": 1.5}),
			[]string{`memorySize: must be a number, not "lots"`, `publish: must be true or false, not "yes"`,
				"envVariables: must be an object of names to values, not a list", "tags.t: must be a string, not an object",
				"aliases: must be a list of strings, not a number", "timeout: must be a whole number, not 1.5"}},
		{"deploy names", DeployTypeName, map[string]any{"functionName": "bad name!", "region": "Mars", "s3bucket": "b",
			"aliases": []any{"123", "ok"}, "triggerArns": []any{"queue"}, "tracingConfig": map[string]any{"mode": "On"},
			"role": "admin"},
			[]string{`functionName: "bad name!" is not valid`, `region: "Mars" is not valid`, `aliases[0]: "123" is not an alias name`,
				`triggerArns[0]: "queue" is not an ARN`, "tracingConfig.mode: must be one of Active, PassThrough", `role: "admin" is not valid`,
				"s3key: s3bucket and s3key go together"}},
		{"deploy unsupported and edge", DeployTypeName, base(map[string]any{"targetGroups": "my-tg", "enableLambdaAtEdge": true,
			"timeout": 30, "memorySize": 256, "region": "eu-west-1", "envVariables": map[string]any{"A": "b"}, "targetGroups2": ""}),
			[]string{"targetGroups: registering the function with an ALB target group is not supported", "timeout: Lambda@Edge",
				"memorySize: Lambda@Edge", "region: Lambda@Edge", "envVariables: Lambda@Edge"}},
		{"deploy exported defaults", DeployTypeName, base(map[string]any{"targetGroups": "", "enableLambdaAtEdge": false, "KMSKeyArn": "",
			"kmskeyArn": "", "subnetIds": []any{}, "securityGroupIds": []any{}, "vpcId": "", "operation": "", "credentials": "",
			"deadLetterConfig": map[string]any{"targetArn": ""}, "aliases": []any{}, "cloudProvider": "aws"}), nil},
		{"deploy needs functionName", DeployTypeName, map[string]any{}, []string{"functionName: is required"}},
		{"deploy provisioned without publish", DeployTypeName, base(map[string]any{"provisionedConcurrentExecutions": 2}),
			[]string{"provisionedConcurrentExecutions: applies to the version this stage publishes"}},
		{"deploy two code sources", DeployTypeName, base(map[string]any{"imageUri": "x"}), []string{"s3bucket: give the code in one way"}},
		{"update code needs code", UpdateCodeTypeName, map[string]any{"functionName": "f"}, []string{"s3key: is required"}},
		{"update code ok", UpdateCodeTypeName, base(map[string]any{"publish": "true"}), nil},
		{"delete ok", DeleteTypeName, map[string]any{"functionName": "f", "version": "$MOVING", "retentionNumber": "3"}, nil},
		{"delete number", DeleteTypeName, map[string]any{"functionName": "f", "version": 4}, nil},
		{"delete needs version", DeleteTypeName, map[string]any{"functionName": "f"}, []string{"version: is required"}},
		{"delete bad selector", DeleteTypeName, map[string]any{"functionName": "f", "version": "$NEWEST"},
			[]string{`version: version "$NEWEST" is not a version selector: use $LATEST (newest published version)`}},
		{"delete moving needs retention", DeleteTypeName, map[string]any{"functionName": "f", "version": "$MOVING"},
			[]string{"retentionNumber: version $MOVING needs retentionNumber"}},
		{"delete retention range", DeleteTypeName, map[string]any{"functionName": "f", "version": "$MOVING", "retentionNumber": 0},
			[]string{"retentionNumber: must be at least 1, not 0"}},
		{"delete provided needs number", DeleteTypeName, map[string]any{"functionName": "f", "version": "$PROVIDED"},
			[]string{"versionNumber: version $PROVIDED needs the version number"}},
		{"wait timeout", DeleteTypeName, map[string]any{"functionName": "f", "version": "1", "waitTimeoutSeconds": 0},
			[]string{"waitTimeoutSeconds: must be at least 1, not 0"}},
	} {
		errs := types[tc.typ].Validate(tc.fields)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if len(tc.want) == 0 && len(got) > 0 {
			t.Errorf("%s: unexpected problems %q", tc.name, got)
		}
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				if strings.HasPrefix(g, w) || strings.Contains(g, w) && strings.HasPrefix(g, strings.SplitN(w, ":", 2)[0]+":") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: want a problem %q; got %q", tc.name, w, got)
			}
		}
	}
}
