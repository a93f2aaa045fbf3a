// Package sns is the local Lambda's SNS: topics, subscriptions (sqs,
// lambda, http, https), Publish and PublishBatch with message attributes
// and filter policies, delivered as AWS delivers them, on the local
// Lambda's one loopback port.
//
// It owns topics, subscriptions, the deliveries a publish owes, the key
// that signs messages, and SNS's wire protocol. It must not run functions
// or keep queues: a lambda subscription is an Event invocation through
// Functions (the local Lambda's invoke.Invoker), an sqs subscription a
// message sent through Queues (the local SQS). It does not check
// signatures: the server routes a request here by the service name of its
// SigV4 credential scope ("sns") after package access let it through, and
// routes here the unsigned SubscribeURL and UnsubscribeURL GETs that
// access lets through as SNSLink.
//
// # Protocol
//
// aws-sdk-go-v2's service/sns (v1.48) speaks the query protocol
// (awsquery), as the AWS CLI v1 and v2 do: a form Action=…&Version=
// 2010-03-31 in a POST body (or a GET query), flattened maps
// (Attributes.entry.N.key/value, MessageAttributes.entry.N.Name/Value.
// DataType/…), lists (PublishBatchRequestEntries.member.N.…), answered
// with <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>
// in the 2010-03-31 namespace, and errors as <ErrorResponse><Error>
// <Type>Sender</Type><Code>NotFound</Code><Message>…. SNS has no JSON
// protocol, so there is none here.
//
// # Operations
//
// CreateTopic (idempotent with the same attributes), DeleteTopic (of a
// missing topic: no error, as AWS), ListTopics (pages of 100),
// Get/SetTopicAttributes, Tag/UntagResource, ListTagsForResource,
// Subscribe (ReturnSubscriptionArn; the same protocol and endpoint again
// give the same subscription), ConfirmSubscription, Unsubscribe,
// ListSubscriptions(ByTopic) (an unconfirmed one shows
// "PendingConfirmation"), Get/SetSubscriptionAttributes
// (RawMessageDelivery, FilterPolicy, FilterPolicyScope, RedrivePolicy,
// DeliveryPolicy kept), Publish and PublishBatch (Subject,
// MessageStructure=json with its per-protocol messages, attributes of
// type String, Number, Binary and String.Array, custom ".suffix" types).
// Errors are AWS's codes — NotFound 404, InvalidParameter 400 with
// "Invalid parameter: …" messages, ValidationError, InvalidAction,
// EmptyBatchRequest, TooManyEntriesInBatchRequest,
// BatchEntryIdsNotDistinct — so errors.As finds the SDK's
// *types.NotFoundException and the rest.
//
// # Filter policies
//
// filter_policy.go evaluates them as SNS does: keys AND, values OR;
// exact strings and numbers (numbers match Number attributes only, to
// five decimal places), prefix, suffix, equals-ignore-case, anything-but
// (values, a value, prefix, suffix; an absent key never matches),
// numeric comparisons and ranges, exists, cidr, $or, nested keys for
// FilterPolicyScope MessageBody (arrays in the body match by any
// element), String.Array attributes by any element. The limits are AWS's:
// five keys, 150 combinations, numbers within ±10⁹. A publish that a
// subscription's policy does not match owes that subscription nothing.
//
// # Delivery
//
//	Publish ── one transaction: a deliveries row per matching confirmed subscription ── answer
//	deliverLoop ── due rows ── up to Workers at once ── deliver:
//	    lambda     Functions.InvokeAsync(endpoint ARN, {"Records":[{"EventSource":"aws:sns",…}]})
//	    sqs        Queues.SendMessage(queue ARN, the JSON envelope, or the raw message and
//	               its attributes with RawMessageDelivery)
//	    http(s)    POST the envelope (or the raw message), x-amz-sns-message-type, -message-id,
//	               -topic-arn, -subscription-arn; any 2xx is delivered
//	success ── delete the row;  failure ── retry after RetryDelays (AWS's HTTP default:
//	three retries 20 s apart), then the subscription's RedrivePolicy queue, then delete
//
// An http(s) subscription starts PendingConfirmation: its
// SubscriptionConfirmation (Token, SubscribeURL) is a delivery like any
// other, and ConfirmSubscription, or a GET of the SubscribeURL, confirms
// it. Messages are signed, SignatureVersion 1 (RSA-SHA1 over AWS's string
// to sign), with a key made on first Open and a self-signed certificate
// served at SigningCertURL (CertificatePath on the endpoint): a receiver
// verifies them as it verifies AWS's, with this certificate.
//
// # State, and why SQLite
//
// One SQLite database (modernc.org/sqlite, WAL, synchronous=FULL) in the
// local Lambda's data directory: tables topics, subscriptions,
// deliveries and settings (the signing key). A Publish's fan-out is part
// of its transaction, so a publish that was answered owes its deliveries
// even if the process dies the next instant; a delivery row is deleted
// only after its delivery, so after a restart what was owed is delivered
// (at least once, as AWS: a crash between a delivery and its deletion
// delivers it again). The control plane's scheme — one JSON snapshot
// rewritten atomically per change — suits a catalog that changes rarely;
// it would rewrite every topic and owed delivery on every publish, and
// could not make the fan-out and the acknowledgement one step.
//
// github.com/Admiral-Piett/goaws was considered and not used: its state
// lives in package globals (one instance per process, none per test),
// nothing survives a restart, it has no lambda protocol, its filter
// policies match exact strings only, and its deliveries are fire and
// forget. What it shows about the query protocol's shapes agrees with
// what is done here.
//
// # Deliberately different from AWS
//
// FIFO topics (.fifo, FifoTopic) are refused with an InvalidParameter
// that says so; MessageGroupId and MessageDeduplicationId likewise.
// Protocols email, sms, application (mobile push) and firehose are
// refused; Publish to a PhoneNumber too. Topic policies, data protection
// policies, KMS keys, delivery-status logging and archive/replay are
// stored as attributes and have no effect; DeliveryPolicy does not change
// the retry schedule (Config.RetryDelays does). Lambda and SQS deliveries
// are retried on the same schedule as HTTP, not AWS's 100,000-odd
// attempts over 23 days. A lambda subscription needs no resource policy
// on the function (AddPermission for sns.amazonaws.com): nothing is
// checked. Signatures use the local certificate, not
// Amazon's, and SignatureVersion 2 (SHA256) is stored but messages are
// signed with version 1.
package sns
