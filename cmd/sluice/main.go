// Command sluice is continuous delivery for AWS Lambda: the server
// (sluice serve) and the command line that drives it. Everything lives in
// package cli; main only connects it to the process.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sluice-cd/sluice/examples/functions/hello/hello"
	"github.com/sluice-cd/sluice/internal/cli"
)

func main() {
	// sluice demo, with no Sluice checkout to build the example function
	// from, packages this binary as the function: run as its bootstrap, it
	// is the function.
	if hello.Invoked() {
		hello.Start()
		return
	}
	// A server with a few MB of live heap collects several times a second
	// at Go's default GOGC=100 once the local Lambda is busy; 400 collects a
	// quarter as often for a few MB of RSS (docs/benchmarks.md). $GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
