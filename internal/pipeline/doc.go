// Package pipeline owns the pipeline document: Spinnaker's pipeline JSON
// (or YAML onto the same structure), its Go types, parsing, normalization,
// encoding and validation.
//
// It is pure: no I/O, no clock, no engine, no store and no stage
// implementations. It does not evaluate expressions; it only finds the
// ${…} spans in a document and hands each body to a checker supplied by the
// caller (ValidateOptions.CheckExpression). Stage types are known only
// through the small StageTypes interface, which the caller adapts from the
// stage registry.
//
// # Life of a document
//
//	bytes ──Parse──▶ *Pipeline (normalized) ──Validate──▶ nil | *ValidationError
//	                      │            └─────Check────▶ warnings, and Validate's answer
//	                      │
//	                      └──MarshalJSON──▶ normalized JSON (Parse of it gives the same document)
//
// Parse accepts JSON, or YAML when the first non-blank byte is not '{' or
// '['. YAML is only an adapter: it is converted to JSON and decoded the same
// way, so both spellings load onto one structure. Syntax errors carry a line
// and column. Parse fails only when the document cannot be represented at
// all (not an object; stages, triggers, parameterConfig or notifications not
// a list of objects) and then returns a *ValidationError naming every such
// place. Every other problem — a missing refId, a string where a boolean
// belongs, a cycle — is kept as written and reported by Validate, all at
// once, so a user fixes a document in one pass.
//
// # Values
//
// Decoded values are map[string]any, []any, string, bool, nil, int64 (a
// whole number that fits) or float64 (any other number). Whole numbers
// therefore round-trip as whole numbers: "waitTime": 5 stays 5. A number
// outside float64's range is a parse error.
//
// # Normalization (done by Parse)
//
//   - A stage's refId written as a JSON number becomes a string ("refId": 1
//     → "1"); so do numeric entries of requisiteStageRefIds.
//   - requisiteStageRefIds null or absent becomes [].
//   - A stage's name defaults to its type.
//   - stageEnabled without a type gets "type": "expression".
//   - failPipeline null means true, as in Orca.
//   - Pipeline limitConcurrent absent or null means true.
//   - Very old exports have no refIds at all. When NO stage has a refId
//     (absent, null or ""), Parse assigns "1", "2", … in document order and
//     chains the stages linearly (each requires the one before it). When
//     only some stages lack one, nothing is invented: Validate reports each.
//   - Parameter option values written as numbers or booleans become strings.
//
// Normalization writes into Stage.Fields as well as the typed fields, so
// Fields — which becomes the stage's context at run time — holds refId as a
// string and the defaulted name.
//
// # Keys Sluice does not know
//
// Unknown top-level keys live in Pipeline.Extra, unknown parameter keys in
// Parameter.Extra; a stage's or trigger's Fields holds the whole object as
// written. All are re-emitted unchanged. A known key whose value has the
// wrong JSON type (for example "limitConcurrent": "yes") is also kept as
// written — in Extra, or in Fields — so that Validate can report it and
// MarshalJSON re-emits it rather than silently dropping it; the typed field
// then holds its default.
//
// Kept is not read, so Check — Validate with warnings — says so: each key
// no table knows gets a warning at its path, naming the nearest known key
// when one is close (nearest: edit distance, then shared words); each
// Spinnaker key Sluice keeps without acting on gets one saying what Sluice
// does instead, when it is set to something other than its empty value;
// and so does each enabled trigger. The tables are pipelineFields,
// parameterFields and stageFields here, and each stage type's own keys,
// which StageTypes.KnownFields returns (the stage package derives them
// from a type's Spec). Warnings never make a document invalid.
//
// # Migration report
//
// Report runs Check's checks and sorts what they find, per stage (by the
// "stages[N]" of each path) and for the pipeline, into what will not run
// (Check's errors) and what runs with a different effect than in
// Spinnaker: Check's warnings, each with its Kind (KindUnknown,
// KindIgnored), and the differences the same tables declare in Differs
// (KindDiffers) — keys Sluice reads but, where Spinnaker's behaviour is a
// reported bug, acts on differently. Check does not warn about those.
// SplitDocuments splits an export (a JSON array of pipelines, a YAML list
// or stream) into documents Parse reads; ValidateOptions.CheckTarget lets
// the caller say which accounts and regions exist.
//
// # Encoding
//
// MarshalJSON emits the typed fields in Spinnaker spelling over the kept
// keys; the typed fields win over well-typed kept values, so code may
// change them after Parse (a wrong-typed value kept as written wins until it
// is removed). Keys are
// sorted and HTML characters are not escaped. The graph keys (refId,
// requisiteStageRefIds, name, type) and the pipeline's stages, triggers,
// parameterConfig, limitConcurrent and keepWaitingPipelines are always
// written; other typed keys are written when they were present in the input
// or differ from their default.
package pipeline
