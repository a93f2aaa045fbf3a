package expr

import (
	"context"
	"testing"
)

// stageContext is a typical Lambda deployment stage context: ten strings,
// three of them with expressions.
func stageContext() map[string]any {
	return map[string]any{
		"functionName": "orders-${parameters.env}",
		"account":      "prod-account",
		"region":       "us-east-1",
		"runtime":      "provided.al2023",
		"handler":      "bootstrap",
		"aliasName":    "live",
		"description":  "orders service",
		"s3bucket":     "artifacts",
		"s3key":        "orders/${#stage('Build').outputs.version}/orders.zip",
		"enabled":      "${#judgment('Approve') == 'promote'}",
		"memorySize":   float64(512),
		"envVariables": map[string]any{"LOG_LEVEL": "info"},
	}
}

func BenchmarkResolve(b *testing.B) {
	env, in := testEnv(), stageContext()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, sum := Resolve(ctx, in, env); !sum.Empty() {
			b.Fatal(sum.Failures)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	env := testEnv()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Eval(ctx, "#judgment('Approve') == 'promote'", env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile measures a cache miss: translation and compilation.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if p := compile("#stage('Build').outputs.version ?: parameters.tag.substring(0, 6)"); p.err != nil {
			b.Fatal(p.err.msg)
		}
	}
}

// BenchmarkLoop measures the sandbox's cost per closure iteration.
func BenchmarkLoop(b *testing.B) {
	env := testEnv()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EvalWithOptions(ctx, "count(1..10000, # % 2 == 0)", env, Options{Timeout: hangGuard}); err != nil {
			b.Fatal(err)
		}
	}
}
