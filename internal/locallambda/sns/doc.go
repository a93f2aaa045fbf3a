// Package sns is the local Lambda's SNS: topics, subscriptions (sqs,
// lambda, http, https), Publish and PublishBatch with message attributes
// and filter policies, delivered as AWS delivers them.
package sns
