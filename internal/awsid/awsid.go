// Package awsid checks the shape of AWS identifiers — region names and
// account IDs — for every part of Sluice that reads them: account configs,
// stage fields and the local Lambda. It is a leaf: it imports nothing of
// Sluice's and nothing of the AWS SDK, and it never asks AWS whether an
// identifier exists.
package awsid

import "regexp"

var (
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountIDPattern = regexp.MustCompile(`^\d{12}$`)
)

// ValidRegion reports whether name is shaped like an AWS region name:
// us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, us-isob-east-1.
func ValidRegion(name string) bool { return regionPattern.MatchString(name) }

// ValidAccountID reports whether id is an AWS account ID: twelve digits.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }
