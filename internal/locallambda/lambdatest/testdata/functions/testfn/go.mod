// The test function is its own module, so that the main module's
// `go mod tidy` (which never looks into testdata) cannot drop its
// dependency on aws-lambda-go.
module github.com/sluice-cd/sluice/internal/locallambda/lambdatest/testdata/functions/testfn

go 1.26.8

require github.com/aws/aws-lambda-go v1.55.1
