// Package awsid checks the shape of AWS identifiers — region names and
// account IDs — for every part of Sluice that reads them: account configs,
// stage fields and the local Lambda. It is a leaf: it imports nothing of
// Sluice's and nothing of the AWS SDK, and it never asks AWS whether an
// identifier exists.
package awsid

import (
	"regexp"
	"strings"
	"sync"
)

// regionPattern compiles on first use, not at every command's start.
var regionPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`) })

// ValidRegion reports whether name is shaped like an AWS region name:
// us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, us-isob-east-1.
func ValidRegion(name string) bool { return regionPattern().MatchString(name) }

// ValidAccountID reports whether id is an AWS account ID: twelve digits.
func ValidAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range []byte(id) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Name reports whether s is 1 to max ASCII letters, digits and bytes of
// punct: the shape of most AWS resource names (queues, topics, message
// attributes, batch entry IDs), checked without a pattern.
func Name(s string, max int, punct string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && strings.IndexByte(punct, c) < 0 {
			return false
		}
	}
	return true
}
