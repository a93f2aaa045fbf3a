// Command hello is the example Lambda function of Sluice's canary demo;
// package hello holds it (what it answers, and how its environment makes
// one package several versions).
package main

import "github.com/sluice-cd/sluice/examples/functions/hello/hello"

func main() { hello.Start() }
