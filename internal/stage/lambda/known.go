package lambda

import (
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// KnownFields implements stage.FieldDeclarer: the keys of the type's spec,
// the Deck and Orca keys that change nothing in Spinnaker either
// (deckKeys), and the Spinnaker keys Sluice keeps without acting on
// (ignoredKeys).
func (st *stageType[S, P]) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(P(new(S)))
	for _, key := range deckKeys[""] {
		k.Keys[key] = nil
	}
	for _, key := range deckKeys[st.name] {
		k.Keys[key] = nil
	}
	k.Ignored = ignoredKeys[st.name]
	k.Differs = differs[st.name]
	return k
}

// deckKeys are keys Deck or Orca write into Lambda stages that have no
// effect in Spinnaker beyond what Sluice does without them, by stage type
// ("" for every Lambda stage). Sluice accepts them without a warning.
var deckKeys = map[string][]string{
	// credentials is Clouddriver's name for account (the account check
	// reads it); cloudProvider is always aws; appName is the execution's
	// application.
	"": {"credentials", "cloudProvider", "appName"},
	// Deck computes functionName from the first four and writes it too
	// (the plugin's own test pipelines spell detailName describeName); vpcId only
	// feeds Deck's Lambda@Edge check; operation is unused.
	DeployTypeName: {"functionUid", "stackName", "detailName", "describeName", "vpcId", "operation"},
}

// ignoredKeys are the Spinnaker keys of each Lambda stage type that Sluice
// keeps but does not act on, with what Sluice does instead. Validation
// warns when a stage sets one.
var ignoredKeys = map[string]map[string]string{
	RouteTypeName: {
		"trafficPercentB": "Sluice sends trafficPercentA to version A and the rest to version B, as Spinnaker does; trafficPercentB is not read",
		"healthCheckType": "Sluice runs no health check; $BLUEGREEN invokes the new version and compares its output with outputArtifact",
	},
	InvokeTypeName: {
		"lambdaPayload":  "Spinnaker does not read it either; give the payload in payload or payloadArtifact",
		"lambdaOutput":   "Spinnaker does not read it either; check the response with expectedOutput, expectedSubset or expectedRegex",
		"outputArtifact": "Spinnaker does not read it on an Invoke stage either; check the response with expectedOutput, expectedSubset or expectedRegex",
		"qualifier":      "Spinnaker overwrites it; name the version to invoke with aliasName or version",
	},
	DeleteTypeName: {
		"qualifier": "Spinnaker overwrites it; name the versions to delete with version",
	},
}

var _ stage.FieldDeclarer = (*stageType[deploySpec, *deploySpec])(nil)

// differs are the keys of each Lambda stage type whose effect in Sluice
// deliberately differs from Spinnaker's, because Spinnaker's is a bug
// (docs/lambda-stages.md, "Differences from Spinnaker"). The import report
// lists them; validation does not warn. Sluice's opt-in keys
// (aliasesCreateOnly, clearTags, leaveAbsent, …) are not differences.
var differs = map[string]map[string]pipeline.Difference{
	DeployTypeName: {
		"memorySize": {When: absent,
			Why: "absent: Orca reads memorySize as a Java int and sends 0, which AWS refuses, so the deploy fails in Spinnaker; Sluice leaves the memory as it is (a new function gets Lambda's 128 MB); set memorySize to have one effect in both"},
		"timeout": {When: absent,
			Why: "absent: Orca reads timeout as a Java int and sends 0, which AWS refuses, so the deploy fails in Spinnaker; Sluice leaves the timeout as it is (a new function gets Lambda's 3 s); set timeout to have one effect in both"},
		"region": {When: absent,
			Why: "absent: Spinnaker's Deploy requires region; Sluice deploys to the account's first region, so set region when the account has more than one"},
	},
	UpdateCodeTypeName: {"functionName": functionNameDiffers},
	InvokeTypeName: {
		"functionName": functionNameDiffers,
		"timeout": {When: invokeTimeoutZero,
			Why: "0 or absent: Orca's wait loop (while (timeout > 0)) never runs, so Spinnaker reports every invocation as \"did not finish on time\"; Sluice lets each invocation run for Clouddriver's 50 s cap and reports what it did (the function is invoked the same)"},
		"payloadArtifact": {When: absent,
			Why: "absent: Orca dereferences payloadArtifact and fails the stage without one (spinnaker/spinnaker#7101); Sluice invokes with payload, or {}"},
	},
	RouteTypeName: {"functionName": functionNameDiffers},
	DeleteTypeName: {
		"functionName": functionNameDiffers,
		"version": {When: func(c pipeline.DiffContext) bool { return c.Value == "$PREVIOUS" },
			Why: "$PREVIOUS of a function with one published version names no version: Orca's LambdaDeleteTask succeeds with a failureMessage; Sluice fails the stage, as the plugin's functional Scenario 8 expects (testing/TESTCASES.md)"},
	},
}

// functionNameDiffers: a name the plugin reads as written outside Deploy,
// to which Sluice applies Deploy's application prefix.
var functionNameDiffers = pipeline.Difference{
	When: func(c pipeline.DiffContext) bool {
		name, ok := c.Value.(string)
		if !ok || name == "" || strings.Contains(name, "${") || c.Object["prefixApplicationNameToFunction"] == false {
			return false
		}
		return applicationPrefixed(c.Application, name) != name
	},
	Why: "the plugin prefixes the application's name only when Deploy creates a function and looks this name up as written (plugin issue #69); Sluice applies Deploy's rule in every stage, so this stage acts on <application>-<functionName>; set prefixApplicationNameToFunction: false to use the name as written",
}

func absent(c pipeline.DiffContext) bool { return !c.Present || c.Value == nil }

// invokeTimeoutZero: timeout 0 or absent on an Invoke that invokes.
func invokeTimeoutZero(c pipeline.DiffContext) bool {
	if n, ok := wholeNumber(c.Object["executionCount"]); !ok || n <= 0 {
		return false
	}
	if !c.Present || c.Value == nil || c.Value == "" {
		return true
	}
	n, ok := wholeNumber(c.Value)
	return ok && n == 0
}

// wholeNumber reads a whole number as Deck writes it: a number or its text.
func wholeNumber(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case float64:
		return int64(v), v == float64(int64(v))
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}
