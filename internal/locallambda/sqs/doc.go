// Package sqs is the local Lambda's SQS: queues and messages kept in a
// SQLite database in the local Lambda's data directory, served on the
// local Lambda's one loopback port so that aws-sdk-go-v2's service/sqs
// client and the AWS CLI work against it unchanged, and offered to the
// local Lambda's other parts through a small Go API (SendMessage, Send,
// Receive, Delete, ChangeVisibility, by queue ARN).
//
// It owns the queues, their messages and the SQS wire protocols. It must
// not know about functions beyond the Invoke interface the poller is
// given, and it does not check signatures: the server routes a request
// here by the service name of its SigV4 credential scope ("sqs") after
// package access has let it through.
//
// # Protocols
//
// Both of SQS's protocols, told apart per request:
//
//   - JSON (aws-sdk-go-v2, current botocore: the AWS CLI v1 from pip):
//     POST with X-Amz-Target: AmazonSQS.<Operation> and an
//     application/x-amz-json-1.0 body. Errors are {"__type":
//     "com.amazonaws.sqs#QueueDoesNotExist", "message": …} with
//     X-Amzn-Query-Error: AWS.SimpleQueueService.NonExistentQueue;Sender,
//     from which the SDK takes the error's code, as from AWS.
//   - Query (Debian 12's AWS CLI v2, older SDKs): Action=<Operation>&
//     Version=2012-11-05 form parameters, flattened lists and maps
//     (Attribute.1.Name, MessageAttribute.1.Value.StringValue, …), XML
//     answers and <ErrorResponse> errors.
//
// A query request is turned into the JSON protocol's request object, so
// one decoder per operation serves both, and an XML answer is rendered
// from the value the JSON protocol marshals.
//
// # Operations
//
// CreateQueue (idempotent with the same attributes, QueueNameExists
// otherwise), GetQueueUrl, ListQueues (prefix, pages), GetQueueAttributes
// (with the Approximate* counts), SetQueueAttributes, DeleteQueue,
// PurgeQueue (once a minute), TagQueue, UntagQueue, ListQueueTags,
// ListDeadLetterSourceQueues, SendMessage(Batch), ReceiveMessage (long
// polling woken by a send), DeleteMessage(Batch) and
// ChangeMessageVisibility(Batch). MD5OfMessageBody and
// MD5OfMessageAttributes are computed as AWS computes them. FIFO queues
// (.fifo): MessageGroupId order, a group held back while one of its
// messages is in flight, MessageDeduplicationId or content-based
// deduplication over a 5-minute window, per queue or per group
// (DeduplicationScope), SequenceNumber. A RedrivePolicy moves a message
// that would be received more than maxReceiveCount times to its
// dead-letter queue, with DeadLetterQueueSourceArn set. Queue URLs are
// http://HOST:PORT/ACCOUNT/NAME (any host of the request is taken back),
// ARNs arn:aws:sqs:REGION:ACCOUNT:NAME with the local Lambda's account and
// region.
//
// # Event source mappings
//
// Poller delivers a queue to a function for each Enabled event source
// mapping whose EventSourceArn is a queue here, as Lambda's SQS pollers
// do. A mapping has five pollers (fewer with
// ScalingConfig.MaximumConcurrency; AWS starts with five and scales up,
// the local Lambda does not). Each receives up to BatchSize messages (in
// receives of at most 10, each a 20-second long poll), waits up to
// MaximumBatchingWindowInSeconds for more once it has one, and invokes
// the function, or the mapping's version or alias, through the local
// Lambda's invoker: an alias's weights are drawn per batch and the
// per-version metrics count every batch, so a canary of a queue consumer
// gets its share and canary analysis sees it. The event is AWS's:
// Records[] with messageId, receiptHandle, body, attributes
// (ApproximateReceiveCount, SentTimestamp, SenderId,
// ApproximateFirstReceiveTimestamp, and MessageGroupId, SequenceNumber,
// MessageDeduplicationId, AWSTraceHeader where they apply),
// messageAttributes (stringValue or binaryValue, dataType, empty list
// values), md5OfBody, md5OfMessageAttributes, eventSource "aws:sqs",
// eventSourceARN and awsRegion.
//
//	receive batch ──▶ Invoke (RequestResponse) ──▶ success: delete the batch
//	                        │                       (with ReportBatchItemFailures:
//	                        │                        all but batchItemFailures)
//	                        ├─▶ function error: leave the batch; it returns after
//	                        │   the queue's VisibilityTimeout, and the queue's
//	                        │   RedrivePolicy moves it after maxReceiveCount receives
//	                        └─▶ not invoked (throttled, no such function): the same,
//	                            and the poller waits a second
//
// A ReportBatchItemFailures response is read as Lambda reads it: empty,
// null, not a JSON object, or an empty list is complete success; a
// failure whose itemIdentifier is null, empty or not a message of the
// batch fails the whole batch. LastProcessingResult is "OK" after an
// invocation that returned (some of its messages may have been reported
// as failed), "PROBLEM: Function call failed" after a function error, and
// "PROBLEM: Function call failed: …" with the reason when the function
// could not be invoked; a mapping whose queue does not exist here waits
// for it and keeps "No records processed". Pollers stop when the mapping
// leaves Enabled (Update, Delete) or the local Lambda closes, finishing
// the batch they hold, and start again after a restart for every Enabled
// mapping. A mapping's FilterCriteria is stored but not applied: every
// message is delivered (on AWS, messages that match no filter are
// deleted undelivered). A message is deleted only after the invocation that processed
// it returned, so a crash in between delivers it again: at least once, as
// on AWS.
//
// # State
//
// One SQLite database (modernc.org/sqlite, WAL): tables queues, messages
// and dedup. Every API call is one transaction, one at a time, so calls
// are serialized and a SendMessage that was answered is committed:
// it survives the process being killed and a power cut (synchronous=FULL:
// the log is flushed at every commit). A message's visibility is a time in
// its row (visible), so in-flight messages come back after a restart when
// their timeout ends, as on AWS. Long polls wait in memory for a send or
// the next message's visibility; they end when the process does.
//
// # Differences from AWS
//
// Delivery is exact where AWS is approximate: a receive sees every
// visible message (no sampling of servers, so no empty receives from a
// short poll while messages wait), in the order sent, for standard queues
// too. A deleted queue's name can be used again at once (AWS waits 60 s).
// Policies, KMS and server-side encryption attributes are stored and
// echoed, without effect. AddPermission, RemovePermission and the message
// move tasks are refused with UnsupportedOperation. Throughput limits and
// the 120,000 in-flight limit are not modelled, nor FIFO's
// ReceiveRequestAttemptId (a retried receive gets other messages).
// MessageRetentionPeriod is: older messages go when the queue is next
// received from.
//
// # Why not goaws
//
// github.com/Admiral-Piett/goaws speaks both protocols, but keeps its
// state in package globals (one instance per process, nothing for a
// second local Lambda in the same test binary) and in memory only, so
// queues and messages would not survive a restart as the rest of the
// local Lambda's state does; adding persistence would mean rewriting its
// store. The local SQS is a few files over one SQLite schema,
// with no dependency the module does not already have.
package sqs
