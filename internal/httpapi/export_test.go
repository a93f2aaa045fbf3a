package httpapi

// OpenAPIDocument is the embedded openapi.json, for the external tests that
// check real traffic against it.
var OpenAPIDocument = openAPIDocument

// JudgmentRoles reads the roles a manualJudgment stage's context requires.
var JudgmentRoles = judgmentRoles
