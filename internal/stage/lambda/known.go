package lambda

import (
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
