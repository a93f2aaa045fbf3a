package lambda

import (
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// TestDiffers: the import report lists, from the differs tables, each
// place where a Lambda stage's field has another effect than in
// Spinnaker, and only there.
func TestDiffers(t *testing.T) {
	t.Parallel()
	reg := stage.NewRegistry(Types(Options{})...)
	for alias, target := range Aliases {
		reg.Alias(alias, target)
	}
	deploy := `"type":"Aws.LambdaDeploymentStage","functionName":"shop-orders","runtime":"python3.12","handler":"h","role":"arn:aws:iam::111122223333:role/r","s3bucket":"b","s3key":"k"`
	for _, tt := range []struct {
		name, stage string
		want        []string // paths of the differences
	}{
		{"deploy as Deck writes it", deploy + `,"memorySize":128,"timeout":3,"region":"us-east-1"`, nil},
		{"deploy without memorySize, timeout, region", deploy, []string{"memorySize", "region", "timeout"}},
		{"deploy with null region", deploy + `,"memorySize":128,"timeout":3,"region":null`, []string{"region"}},
		{"update code of an unprefixed name", `"type":"Aws.LambdaUpdateCodeStage","functionName":"orders","s3bucket":"b","s3key":"k"`, []string{"functionName"}},
		{"prefixed name", `"type":"Aws.LambdaUpdateCodeStage","functionName":"shop-orders","s3bucket":"b","s3key":"k"`, nil},
		{"prefix case-insensitive", `"type":"Aws.LambdaUpdateCodeStage","functionName":"Shop-orders","s3bucket":"b","s3key":"k"`, nil},
		{"prefix turned off", `"type":"Aws.LambdaUpdateCodeStage","functionName":"orders","prefixApplicationNameToFunction":false,"s3bucket":"b","s3key":"k"`, nil},
		{"an ARN", `"type":"Aws.LambdaUpdateCodeStage","functionName":"arn:aws:lambda:us-east-1:111122223333:function:orders","s3bucket":"b","s3key":"k"`, nil},
		{"an expression", `"type":"Aws.LambdaUpdateCodeStage","functionName":"${parameters.fn}","s3bucket":"b","s3key":"k"`, nil},
		{"invoke that invokes nothing", `"type":"Aws.LambdaInvokeStage","functionName":"shop-orders","payloadArtifact":{"artifact":{"type":"embedded/base64","reference":"e30="}}`, nil},
		{"invoke with timeout 0", `"type":"Aws.LambdaInvokeStage","functionName":"shop-orders","executionCount":"2","timeout":0,"payload":"{}","payloadArtifact":{"artifact":{"type":"embedded/base64","reference":"e30="}}`, []string{"timeout"}},
		{"invoke with a timeout", `"type":"Aws.LambdaInvokeStage","functionName":"shop-orders","executionCount":1,"timeout":30,"payloadArtifact":{"artifact":{"type":"embedded/base64","reference":"e30="}}`, nil},
		{"invoke without payloadArtifact", `"type":"Aws.LambdaInvokeStage","functionName":"shop-orders","executionCount":1,"timeout":30`, []string{"payloadArtifact"}},
		{"route of an unprefixed name", `"type":"Aws.LambdaTrafficRoutingStage","functionName":"orders","aliasName":"live","deploymentStrategy":"$SIMPLE","versionNameA":"$LATEST"`, []string{"functionName"}},
		{"delete $PREVIOUS", `"type":"Aws.LambdaDeleteStage","functionName":"shop-orders","version":"$PREVIOUS"`, []string{"version"}},
		{"delete $ALL", `"type":"Aws.LambdaDeleteStage","functionName":"shop-orders","version":"$ALL"`, nil},
		{"an alias of a type", `"type":"lambdaDelete","functionName":"orders","version":"$PREVIOUS"`, []string{"functionName", "version"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := pipeline.Parse([]byte(`{"application":"shop","name":"n","stages":[{"refId":"1",` + tt.stage + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			r := p.Report(pipeline.ValidateOptions{StageTypes: reg})
			if len(r.Stages[0].WontRun) > 0 {
				t.Fatalf("stage will not run: %v", r.Stages[0].WontRun)
			}
			var got []string
			for _, d := range r.Stages[0].Differs {
				if d.Kind == pipeline.KindDiffers {
					got = append(got, d.Path[len("stages[0]."):])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("differences at %q, want %q", got, tt.want)
			}
		})
	}
}
