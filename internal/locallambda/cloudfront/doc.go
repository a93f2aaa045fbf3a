// Package cloudfront is the local Lambda's CloudFront: a control plane
// that answers CloudFront's REST-XML API (2020-05-31) on the local
// Lambda's one loopback port, so that aws-sdk-go-v2's cloudfront client
// (waiters included) works against it unchanged, and an edge proxy that
// serves its distributions over HTTP and runs their Lambda@Edge function
// versions through the local Lambda's data plane.
//
// It owns distributions and continuous-deployment policies and their
// crash-safe snapshot (DataDir/state.json, written whole with
// atomicfile after every change). It must not store functions: it asks
// the local Lambda's control plane (invoke.Resolver) whether an
// associated version exists, and its data plane (Invoker) to run one.
//
// # Requests
//
// The server routes a request here when its SigV4 credential scope names
// the service "cloudfront" — /2020-05-31/… would otherwise pass for a
// Lambda API version — after package access has checked it as it checks
// the Lambda API. Errors are CloudFront's XML ErrorResponse with its codes
// (NoSuchDistribution, InvalidIfMatchVersion, PreconditionFailed,
// InvalidLambdaFunctionAssociation, …), which the SDK maps to its typed
// errors.
//
// # Operations
//
//	POST   /2020-05-31/distribution                         CreateDistribution
//	GET    /2020-05-31/distribution                         ListDistributions (Marker, MaxItems)
//	GET    /2020-05-31/distribution/ID                      GetDistribution
//	GET    /2020-05-31/distribution/ID/config               GetDistributionConfig
//	PUT    /2020-05-31/distribution/ID/config               UpdateDistribution (If-Match)
//	DELETE /2020-05-31/distribution/ID                      DeleteDistribution (If-Match, disabled, Deployed)
//	POST   /2020-05-31/distribution/ID/copy                 CopyDistribution (Staging header)
//	PUT    /2020-05-31/distribution/ID/promote-staging-config?StagingDistributionId=S
//	                                                        UpdateDistributionWithStagingConfig (If-Match: "P, S")
//	POST   /2020-05-31/continuous-deployment-policy         CreateContinuousDeploymentPolicy
//	GET    /2020-05-31/continuous-deployment-policy         ListContinuousDeploymentPolicies
//	GET    /2020-05-31/continuous-deployment-policy/ID      GetContinuousDeploymentPolicy
//	GET    /2020-05-31/continuous-deployment-policy/ID/config
//	PUT    /2020-05-31/continuous-deployment-policy/ID      UpdateContinuousDeploymentPolicy (If-Match)
//	DELETE /2020-05-31/continuous-deployment-policy/ID      DeleteContinuousDeploymentPolicy (If-Match)
//
// Anything else is a 501 NotImplemented that names the request.
//
// # The configuration is kept whole
//
// A DistributionConfig is stored as the element tree the client sent and
// returned as it came, so every field round-trips, including the many
// the local CloudFront does nothing with (cache policies, logging,
// certificates, geo restrictions). It reads and checks only what it acts
// on: CallerReference, Enabled, Staging, ContinuousDeploymentPolicyId,
// Aliases, Origins (Id, DomainName, OriginPath, CustomOriginConfig,
// CustomHeaders) and each cache behavior's PathPattern, TargetOriginId
// and LambdaFunctionAssociations; and every {Quantity, Items} list's
// Quantity (InconsistentQuantities). It adds Staging and
// ContinuousDeploymentPolicyId when a client left them out, as CloudFront
// returns them.
//
// # Checks, as CloudFront makes them
//
//   - If-Match: an update or delete without it is InvalidIfMatchVersion,
//     with another ETag than the current one PreconditionFailed; every
//     change makes a new ETag.
//   - Function associations: a numbered version ARN in us-east-1 (not
//     $LATEST, an alias or an unqualified ARN), one of the four event
//     types, at most one per event type and four per behavior
//     (TooManyLambdaFunctionAssociations), IncludeBody only on
//     viewer-request and origin-request; and, asked of the local Lambda,
//     a version that exists, without environment variables, with a
//     timeout of at most 5 s for viewer events and 30 s for origin events
//     and at most 128 MB for viewer events. All are
//     InvalidLambdaFunctionAssociation.
//   - A CallerReference belongs to one distribution
//     (DistributionAlreadyExists) and cannot change (IllegalUpdate); an
//     alias to one distribution (CNAMEAlreadyExists).
//   - Continuous deployment: a staging distribution is made only by
//     CopyDistribution with Staging true, and carries no aliases; a policy
//     names one staging distribution (StagingDistributionInUse for a
//     second policy), a SingleWeight of at most 0.15 (with an optional
//     SessionStickinessConfig of 300–3600 s) or a SingleHeader whose name
//     starts with aws-cf-cd-; only a primary may carry a
//     ContinuousDeploymentPolicyId, one primary per policy
//     (ContinuousDeploymentPolicyInUse), and an attached policy cannot be
//     deleted. UpdateDistributionWithStagingConfig copies the staging
//     configuration onto the primary but for its CallerReference, Aliases,
//     Staging and ContinuousDeploymentPolicyId.
//
// # Status
//
// A created or changed distribution is InProgress for Config.DeployDelay
// (default 2 s), then Deployed: the status is computed from the stored
// time of the change and the injected clock, so no timer runs and a
// restart loses nothing. The edge proxy serves a change at once.
//
// # The edge proxy
//
// Server.StartEdge (Plane.StartEdge) serves the distributions over plain
// HTTP on a loopback port of its own: viewers send unsigned requests, so
// they cannot share the signed endpoint. A request picks its
// distribution by its Host header, any port:
//
//   - ID.cloudfront.localhost (the ID in any case): *.localhost resolves
//     to 127.0.0.1 in curl and browsers, so
//     http://e1abc….cloudfront.localhost:PORT/ works as it stands;
//   - the distribution's DomainName (dXXXX.cloudfront.net), sent as Host
//     (curl -H 'Host: d….cloudfront.net' http://127.0.0.1:PORT/);
//   - one of its Aliases.
//
// No other Host is served (403), so a page whose name is pointed here
// (DNS rebinding) reaches nothing; a disabled distribution and a staging
// distribution's own names answer 403 too: a staging distribution is
// reached only through its primary's policy.
//
// Each request runs through the cache behavior whose PathPattern matches
// its path first (* any run of characters, ? one, case-sensitive), or the
// default behavior:
//
//	viewer ─▶ viewer-request ─▶ origin-request ─▶ origin ─▶ origin-response ─▶ viewer-response ─▶ viewer
//	              │ response          │ response                                    ▲
//	              └──▶ viewer         └──────────────────────────────────────────────┘
//
// each function, where the behavior associates one, invoked synchronously
// through the local Lambda's data plane (so its per-version metrics count
// edge traffic, and a canary analysis can read them) with CloudFront's
// event: Records[0].cf.config {distributionDomainName, distributionId,
// eventType, requestId}, cf.request {clientIp, headers — lower-case name
// → [{key, value}] —, method, querystring, uri, and for origin events
// origin.custom {domainName, port, protocol, path, customHeaders, …}, and
// with IncludeBody body {inputTruncated, action, encoding, data}, the
// first 40 KB (viewer) or 1 MB (origin) of the body, base64}, and for
// response events cf.response {status, statusDescription, headers}. A
// request function returns the request to go on with (it may change the
// uri, querystring, headers, origin, and with IncludeBody replace the
// body) or a response, which is generated: a viewer-request's goes to the
// viewer with no further function, an origin-request's skips the origin
// and origin-response but not viewer-response. origin-response runs
// whatever the origin's status; viewer-response not for 400 and above,
// and cannot change the status (the origin's is kept).
//
// The origin is the behavior's custom origin: DomainName and HTTPPort
// (http-only, match-viewer) or HTTPSPort (https-only), OriginPath, the
// origin's custom headers, Host set to the origin's domain name. No
// response is cached: every request reaches the origin (X-Cache: Miss
// from cloudfront, or LambdaGeneratedResponse from cloudfront).
//
// What CloudFront refuses of a function is refused here, with
// CloudFront's status and X-Cache reason and a page that says which
// function did what:
//
//   - 502 LambdaValidationError: a result that is neither a request nor a
//     response, a changed read-only header (viewer-request: Content-Length,
//     Host, Transfer-Encoding, Via; origin-request adds Accept-Encoding and
//     the If-* conditionals; viewer-response Content-Encoding,
//     Content-Length, Warning), a header no function may set (Connection,
//     X-Amz-Cf-*, X-Cache, X-Edge-*, …), a generated response larger than
//     40 KB (viewer events) or 1 MB (origin events), headers and body;
//   - 503 LambdaExecutionError: the function failed or ran past its
//     timeout, capped at the event type's (5 s viewer, 30 s origin);
//   - 503 LambdaLimitExceeded: the local Lambda throttled the invocation.
//
// Continuous deployment: when the primary has an enabled policy,
// SingleWeight sends each request with probability Weight
// (Config.Rand) to the staging distribution's configuration — its
// behaviors, associations and origins — and SingleHeader every request
// whose header has the policy's value. Every response says which served:
// X-Sluice-Edge-Stage (primary or staging) and X-Sluice-Edge-Distribution
// (the ID whose configuration served); functions see the primary's ID and
// domain name, as viewers address the primary.
//
// # Deliberate differences from CloudFront
//
//   - No cache, no compression, no viewer protocol policy: the proxy
//     speaks plain HTTP to viewers and forwards every request.
//   - SessionStickinessConfig is stored and checked but not applied: each
//     request draws anew.
//   - Only custom origins are forwarded to (an S3 origin is a 502 that
//     says so); cache and origin-request policies are not applied (every
//     viewer header goes to the origin but Host).
//   - Runtimes are not checked: CloudFront takes only Node.js and Python
//     functions, the local edge runs whatever the local Lambda runs (the
//     Go functions of the tests); the edge stage checks the runtime.
//   - Tags, invalidations, cache and origin-request policies, CloudFront
//     Functions, origin groups, field-level encryption and the other
//     resources are not served (NotImplemented); their IDs in a
//     configuration are stored and not checked.
package cloudfront
