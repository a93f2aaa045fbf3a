// Package restapi routes the local Lambda's HTTP requests to operations:
// net/http.ServeMux method and path patterns ("GET
// /2015-03-31/functions/{function}"), matched segment by segment as the
// path was sent. It owns that matching, the answers for requests no
// route takes (the Lambda API's UnknownOperationException, or an
// InvalidParameterValueException naming a feature the local Lambda does
// not have), and the frame of every operation: a request ID, a recovered
// panic, and the handler's error rendered as its AWS error envelope.
//
// It must not know functions, versions or processes: operations and their
// handlers come from the control and data planes. It keeps no
// package-level mutable state.
//
// # Matching
//
// ServeMux alone would match differently from the hand-written router it
// replaced, whose answers the local Lambda keeps byte for byte: it matches
// each segment of the escaped path after unescaping it, redirects a path
// with empty or dot segments to its cleaned form (307), answers a wrong
// method with a plain-text 405, and lets GET patterns serve HEAD. Here
//
//   - a literal segment matches only as sent: "%66unctions" is not
//     "functions";
//   - a wildcard takes one segment as sent, percent-decoded once, so an
//     ARN the SDK escapes ("arn%3Aaws%3Alambda%3A…") or one that carries
//     "/" as "%2F" is one value; empty, "." and ".." segments are values
//     too (the handler's validation refuses them), never cleaned away;
//   - leading and trailing slashes are ignored;
//   - the method must be the route's own.
//
// To get that from ServeMux, the router hands it each segment of the
// escaped path escaped once more (an empty segment as "%25", a lone "%",
// which no escaped path can contain), so that what ServeMux unescapes is
// the segment as it was sent; a route's handler then decodes its
// wildcards once. Everything that matches no route, wrong methods
// included, goes to Config.NotFound.
package restapi
