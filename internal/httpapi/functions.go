package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
)

// Functions lists the accounts Sluice deploys to and the Lambda functions
// in them, read fresh from each account's Lambda API; *functions.Lister
// implements it. The API only reads through it: functions are changed by
// pipeline stages, never by these routes.
type Functions interface {
	// Accounts returns every account, by name.
	Accounts(ctx context.Context) []apitype.Account
	// Functions lists an account's functions, narrowed by q. It is only
	// called with a name that Accounts returned.
	Functions(ctx context.Context, account string, q apitype.FunctionQuery) ([]apitype.Function, error)
}

// mayList reports whether the request's principal may see an account's
// functions: admins and, for an account open to every application, anyone;
// for one restricted to some applications (Fiat's account permissions),
// those who may read one of them.
func (s *server) mayList(r *http.Request, a apitype.Account) bool {
	return len(a.Applications) == 0 || s.policy.IsAdmin(s.who(r)) ||
		slices.ContainsFunc(a.Applications, func(app string) bool { return s.canRead(r, app) })
}

func (s *server) listAccounts(w http.ResponseWriter, r *http.Request) error {
	out := apitype.AccountList{Accounts: []apitype.Account{}}
	if s.functions != nil {
		for _, a := range s.functions.Accounts(r.Context()) {
			if s.mayList(r, a) {
				out.Accounts = append(out.Accounts, a)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) listFunctions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("account")
	var accounts []apitype.Account
	if s.functions != nil {
		accounts = s.functions.Accounts(r.Context())
	}
	if !slices.ContainsFunc(accounts, func(a apitype.Account) bool { return a.Name == name }) {
		if len(accounts) == 0 {
			return notFound("account %q not found: this server has no accounts (the local account exists while the embedded local Lambda runs)", name)
		}
		names := make([]string, len(accounts))
		for i, a := range accounts {
			names[i] = a.Name
		}
		return notFound("account %q not found; the accounts are %s", name, strings.Join(names, ", "))
	}
	if i := slices.IndexFunc(accounts, func(a apitype.Account) bool { return a.Name == name }); !s.mayList(r, accounts[i]) {
		return forbidden(&auth.DeniedError{Principal: s.who(r).Name, Msg: fmt.Sprintf(
			"account %s is for the applications %s; %s may read none of them, so may not see its functions",
			name, strings.Join(accounts[i].Applications, ", "), s.who(r).Name)})
	}
	q, err := functionQuery(r, s.now())
	if err != nil {
		return err
	}
	if regions := accountRegions(accounts[slices.IndexFunc(accounts, func(a apitype.Account) bool { return a.Name == name })]); q.Region != "" && !slices.Contains(regions, q.Region) {
		return badRequest("region %q is not one of account %s's regions (%s)", q.Region, name, strings.Join(regions, ", "))
	}
	fns, err := s.functions.Functions(r.Context(), name, q)
	if err != nil {
		if r.Context().Err() != nil {
			return err
		}
		// The account's Lambda API failed: say what it said, it is the
		// user's to fix (credentials, permissions, endpoint).
		return &Error{
			Status:  http.StatusBadGateway,
			Code:    apitype.CodeUnavailable,
			Message: "list the functions of account " + name + ": " + err.Error(),
			Err:     err,
		}
	}
	if fns == nil {
		fns = []apitype.Function{}
	}
	writeJSON(w, http.StatusOK, apitype.FunctionList{Account: name, Functions: fns})
	return nil
}

// functionQuery reads the query of GET /accounts/{account}/functions:
// function, a function's name; region, one of the account's regions
// (default its first); and since, an RFC 3339 time or epoch milliseconds
// in the past.
func functionQuery(r *http.Request, now time.Time) (apitype.FunctionQuery, error) {
	v := r.URL.Query()
	q := apitype.FunctionQuery{Function: v.Get("function"), Region: v.Get("region")}
	if since := v.Get("since"); since != "" {
		if ms, err := strconv.ParseInt(since, 10, 64); err == nil {
			q.Since = ms
		} else if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
			q.Since = t.UnixMilli()
		} else {
			return q, badRequest("since %q is neither an RFC 3339 time such as 2026-01-02T15:04:05Z nor epoch milliseconds", since)
		}
		if q.Since <= 0 || time.UnixMilli(q.Since).After(now) {
			return q, badRequest("since %q is not a time in the past; give when the metrics window starts", since)
		}
	}
	return q, nil
}

// accountRegions are a's regions: Regions, or Region alone.
func accountRegions(a apitype.Account) []string {
	if len(a.Regions) > 0 {
		return a.Regions
	}
	return []string{a.Region}
}
