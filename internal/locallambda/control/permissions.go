package control

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sync"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Resource-based policies: AddPermission, RemovePermission, GetPolicy. The
// function (unqualified, which $LATEST shares), each published version and
// each alias have a policy of their own, as on AWS; deleting a version or
// an alias deletes its policy. The local Lambda keeps the statements and
// answers for them as AWS does, so that what grants SNS, S3 or another
// account the right to invoke is exercised locally, but it does not
// enforce them: every caller that passes package access may invoke.

// policyStatement is one statement as AWS writes it in the policy
// document.
type policyStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

var (
	statementIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-zA-Z0-9-_.]+)$`) })
	actionPattern      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`) })
	principalPattern   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^\s]+$`) })
	accountIDPattern   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{12}$`) })
)

// policyTarget finds the function and the policy key of a request: ""
// for the function, else the version or alias its Qualifier names.
func (cp *Plane) policyTarget(m *catalog, r *http.Request) (*lambdaFunction, string, error) {
	fn, q, err := cp.requestFunction(m, r)
	if err != nil {
		return nil, "", err
	}
	switch q {
	case "":
	case latestQualif:
		return nil, "", awserr.InvalidParameter("We currently do not support adding policies for $LATEST.")
	default:
		if _, _, err := cp.st.resolveQualifier(fn, q); err != nil {
			return nil, "", err
		}
	}
	return fn, q, nil
}

// revisionOf is the RevisionId of a policy's target.
func revisionOf(fn *lambdaFunction, q string) string {
	if a := fn.Aliases[q]; a != nil {
		return a.RevisionID
	}
	if v := fn.Versions[q]; v != nil {
		return v.RevisionID
	}
	return fn.Latest.RevisionID
}

func (cp *Plane) addPermission(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		StatementId         *string `json:"StatementId"`
		Action              *string `json:"Action"`
		Principal           *string `json:"Principal"`
		SourceArn           string  `json:"SourceArn"`
		SourceAccount       string  `json:"SourceAccount"`
		EventSourceToken    string  `json:"EventSourceToken"`
		PrincipalOrgID      string  `json:"PrincipalOrgID"`
		FunctionUrlAuthType string  `json:"FunctionUrlAuthType"`
		RevisionId          string  `json:"RevisionId"`
	}
	if err := decodeRequest(r, "AddPermission", &req); err != nil {
		return err
	}
	switch {
	case req.StatementId == nil:
		return awserr.Validation("null", "statementId", "Member must not be null")
	case len(*req.StatementId) == 0 || len(*req.StatementId) > 100:
		return awserr.Validation(*req.StatementId, "statementId", "Member must have length between 1 and 100")
	case !statementIDPattern().MatchString(*req.StatementId):
		return awserr.Validation(*req.StatementId, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	case req.Action == nil:
		return awserr.Validation("null", "action", "Member must not be null")
	case !actionPattern().MatchString(*req.Action):
		return awserr.Validation(*req.Action, "action", "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
	case req.Principal == nil:
		return awserr.Validation("null", "principal", "Member must not be null")
	case !principalPattern().MatchString(*req.Principal):
		return awserr.Validation(*req.Principal, "principal", "Member must satisfy regular expression pattern: [^\\s]+")
	}
	var statement policyStatement
	err := cp.st.write(func(m *catalog) error {
		fn, q, err := cp.policyTarget(m, r)
		if err != nil {
			return err
		}
		if req.RevisionId != "" && req.RevisionId != revisionOf(fn, q) {
			return awserr.PreconditionFailed()
		}
		if slices.ContainsFunc(fn.Policies[q], func(s policyStatement) bool { return s.Sid == *req.StatementId }) {
			return awserr.ResourceConflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", *req.StatementId)
		}
		statement = policyStatement{Sid: *req.StatementId, Effect: "Allow", Principal: principal(*req.Principal),
			Action: *req.Action, Resource: cp.arns.qualified(fn.Name, q)}
		cond := func(op, key, value string) {
			if value == "" {
				return
			}
			if statement.Condition == nil {
				statement.Condition = map[string]map[string]string{}
			}
			if statement.Condition[op] == nil {
				statement.Condition[op] = map[string]string{}
			}
			statement.Condition[op][key] = value
		}
		cond("ArnLike", "AWS:SourceArn", req.SourceArn)
		cond("StringEquals", "AWS:SourceAccount", req.SourceAccount)
		cond("StringEquals", "lambda:EventSourceToken", req.EventSourceToken)
		cond("StringEquals", "aws:PrincipalOrgID", req.PrincipalOrgID)
		cond("StringEquals", "lambda:FunctionUrlAuthType", req.FunctionUrlAuthType)
		if fn.Policies == nil {
			fn.Policies = map[string][]policyStatement{}
		}
		fn.Policies[q] = append(fn.Policies[q], statement)
		return nil
	})
	if err != nil {
		return err
	}
	b, _ := json.Marshal(statement)
	return respondJSON(w, http.StatusCreated, map[string]string{"Statement": string(b)})
}

// principal is a Principal as AWS writes it in a statement: a service
// name, an account (as its root user), an ARN, or "*".
func principal(p string) any {
	switch {
	case p == "*":
		return "*"
	case accountIDPattern().MatchString(p):
		return map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	case len(p) > 4 && p[:4] == "arn:":
		return map[string]string{"AWS": p}
	}
	return map[string]string{"Service": p}
}

func (cp *Plane) removePermission(w http.ResponseWriter, r *http.Request) error {
	sid := r.PathValue("statement")
	revision := r.URL.Query().Get("RevisionId")
	err := cp.st.write(func(m *catalog) error {
		fn, q, err := cp.policyTarget(m, r)
		if err != nil {
			return err
		}
		if revision != "" && revision != revisionOf(fn, q) {
			return awserr.PreconditionFailed()
		}
		i := slices.IndexFunc(fn.Policies[q], func(s policyStatement) bool { return s.Sid == sid })
		if i < 0 {
			return awserr.ResourceNotFound("Statement %s is not found in resource policy.", sid)
		}
		fn.Policies[q] = slices.Delete(fn.Policies[q], i, i+1)
		if len(fn.Policies[q]) == 0 {
			delete(fn.Policies, q)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

func (cp *Plane) getPolicy(w http.ResponseWriter, r *http.Request) error {
	var resp struct {
		Policy     string `json:"Policy"`
		RevisionId string `json:"RevisionId"`
	}
	err := cp.st.read(func(m *catalog) error {
		fn, q, err := cp.policyTarget(m, r)
		if err != nil {
			return err
		}
		statements := fn.Policies[q]
		if len(statements) == 0 {
			return awserr.ResourceNotFound("The resource you requested does not exist.")
		}
		b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": statements})
		resp.Policy, resp.RevisionId = string(b), revisionOf(fn, q)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}
