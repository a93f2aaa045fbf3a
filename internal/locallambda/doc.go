// Package locallambda is Sluice's embedded local Lambda: an HTTP endpoint
// that answers the AWS Lambda REST API (2015-03-31) as AWS does, stores
// functions, versions and aliases, routes weighted aliases, and runs real
// function packages as local processes over the Lambda Runtime API. The
// same endpoint serves an S3-compatible store for code artifacts, SQS
// (package sqs), whose queues event source mappings deliver to functions,
// and SNS (package sns), whose subscriptions deliver to functions and
// queues; asynchronous invocation delivers its dead letters and
// destination records to both.
//
// # What it is
//
// A faithful AWS peer for development and tests (ARCHITECTURE.md rules 1
// and 2). Sluice's Lambda stages, aws-sdk-go-v2 (waiters included), the AWS
// CLI and functions built with github.com/aws/aws-lambda-go work against it
// unchanged: same paths, status codes, error envelopes (X-Amzn-ErrorType
// plus a JSON body, so errors.As finds *types.ResourceNotFoundException and
// the rest), State and LastUpdateStatus transitions, RevisionId
// preconditions and Invoke headers. Where it cannot do what AWS does —
// container images, VPC networking, layers, EFS, code signing, SnapStart,
// function URLs, Lambda@Edge replicas (ListFunctions' MasterRegion:
// associated versions run in place, through the local CloudFront below),
// S3 object versions — it refuses with an InvalidParameterValueException
// that says so, never a silent success. Resource policies (AddPermission,
// GetPolicy, RemovePermission) are kept and answered as AWS does, but not
// enforced.
//
// The same endpoint answers CloudFront's API (package cloudfront:
// distributions, their Lambda@Edge associations, continuous-deployment
// policies and staging distributions), and Server.StartEdge serves those
// distributions on a port of their own, running the associated versions
// around a local origin, so a team can try an edge function and its
// canary before touching CloudFront.
//
// # What it is not
//
// A sandbox. Functions run as ordinary child processes with the rights of
// the user running Sluice, on this machine's network and file system. Do
// not run code you would not run yourself.
//
// # Who may call it
//
// Only AWS clients on this machine, never a web page: any site the user
// visits can make the browser send requests to 127.0.0.1, and a
// CreateFunction and an Invoke are all it takes to run code as the user.
// So the endpoint listens on loopback only, and package access checks
// every request before it is routed:
//
//   - Host must be 127.0.0.1 (127.0.0.0/8), [::1] or localhost, any port:
//     a page whose DNS name is re-pointed here (rebinding) is refused;
//   - a request with Origin, or with Sec-Fetch-Site other than "none"
//     (which every current browser sends, and no SDK), is refused;
//   - the Lambda API, SQS and S3 need an AWS Signature Version 4, in the
//     Authorization header or a presigned URL's query, which every SDK
//     and the AWS CLI send with whatever credentials they find, and a page
//     cannot send across origins without a CORS preflight (refused, it
//     carries Origin);
//   - with Config.Credentials, the signature is verified with that key's
//     secret (aws-sdk-go-v2's SigV4 signer, over the request as
//     received); without, any well-formed signature is accepted.
//
// /_locallambda/… and GET /metrics are read-only and stay open to
// unsigned requests (curl, Prometheus, Sluice's own server), but not to
// pages. A refusal is AWS's error for the service: a 403 Lambda JSON
// error (AccessDeniedException, MissingAuthenticationTokenException,
// InvalidSignatureException, …) or an S3 XML error (AccessDenied,
// SignatureDoesNotMatch, …), with a message that says why. The rules, and
// what the signature check leaves out, are package access's.
//
// # Shape
//
//	Server ─ one loopback port (this package: server.go)
//	  every request   first through package access: Host, browser, SigV4
//	  signed for "sqs", "sns" or "cloudfront" — the SigV4 credential scope's
//	  │                 service, looked at before the path (/2020-05-31/… is
//	  │                 CloudFront's, not a Lambda version): Server.services, a
//	  │                 map service → handler
//	  │   sqs ───────── SQS, JSON and query protocols: package sqs — queues and
//	  │                 messages in sqs.db (SQLite)
//	  │   Poller ────── one loop per Enabled SQS event source mapping on a local
//	  │                 queue: receive a batch, invoke through invoke.Invoker.Invoke
//	  │                 (alias weights per batch, per-version metrics), delete;
//	  │                 the control plane tells it when mappings change and keeps
//	  │                 LastProcessingResult
//	  │   sns ───────── SNS, query protocol: package sns — topics, subscriptions
//	  │                 and owed deliveries in sns.db
//	  │   cloudfront ── package cloudfront: distributions and continuous-deployment
//	  │                 policies
//	  /20YY-MM-DD/…   Lambda REST API, routed by restapi on ServeMux patterns
//	  │                 control plane: package control — the model (control.db,
//	  │                 SQLite), packages under functions/, activations, every operation
//	  │   Invoke ────── data plane: package invoke — asks the control plane
//	  │                 through invoke.Resolver, runs processes, queues events
//	  /_locallambda/…   the code behind GetFunction's Code.Location (control)
//	  │                 and /_locallambda/metrics/query (invoke's time series)
//	  │                 and /_locallambda/metrics/samples (its per-request samples)
//	  │                 and /_locallambda/functions/F/aliases/A/history (control: every
//	  │                 change of an alias since the local Lambda started)
//	  GET /metrics      Prometheus (invoke)
//	  GET /?Action=ConfirmSubscription|Unsubscribe, unsigned: the links SNS
//	  │                 hands to http(s) subscribers (sns)
//	  everything else   S3, path-style: package s3, a file-backed gofakes3 store
//
//	StartEdge ─ a second loopback port: the edge proxy (package cloudfront)
//	  Host ID.cloudfront.localhost, dXXXX.cloudfront.net or an alias
//	  │                 → cache behavior → viewer-request → origin-request
//	  │                 → custom origin → origin-response → viewer-response,
//	  │                 each function run by invoke.Invoker.Invoke
//
// The services deliver to each other through wiring.go's adapters: an SNS
// lambda subscription is an Event invocation (invoke.Invoker.InvokeAsync),
// an sqs subscription a message sent to the local SQS; the Event queue's
// dead-letter queues and SQS/SNS destinations go to the local SQS and SNS
// (invoke.Config.Sender).
//
// awserr renders both planes' errors and access's refusals as AWS does;
// atomicfile writes packages and S3 metadata crash-safely;
// lambdatest is what the packages' tests share. This package wires them together (the data
// directory's lock included) and owns nothing else.
//
// Path-style S3 only: a client must set UsePathStyle (aws-sdk-go-v2) or
// use an IP address endpoint (the AWS CLI then uses path style). A bucket
// whose name looks like a Lambda API version date (2015-03-31) cannot be
// reached, and GET /metrics without a query string is Prometheus, not the
// listing of a bucket named "metrics".
//
// Function states, the model's invariants and the deliberate differences
// from AWS are the control plane's: see package control.
package locallambda
