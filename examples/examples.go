// Package examples holds the pipelines (and, with the Lambda stages, the
// functions) a new user runs first. The files are plain documents users
// can copy; this package only embeds them so `sluice demo` needs no
// checkout.
package examples

import "embed"

// Pipelines holds pipelines/*.json.
//
//go:embed pipelines/*.json
var Pipelines embed.FS

// CanaryConfigs holds canary-configs/*.json.
//
//go:embed canary-configs/*.json
var CanaryConfigs embed.FS
