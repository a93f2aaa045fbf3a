package oidc

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Identity is who the provider says logged in.
type Identity struct {
	// Subject is the provider's identifier of the user (the "sub" claim),
	// unique and never reassigned within one issuer.
	Subject string
	// Name is the user's name in Sluice, from Config.UsernameClaim: what
	// the audit log records and roles are granted to.
	Name string
	// Email is the "email" claim; empty when absent or when the provider
	// marks it unverified.
	Email string
	// Groups are the groups of Config.GroupsClaim, in the token's order;
	// empty when the token has none.
	Groups []string
}

// identity reads an Identity out of verified ID token claims, and refuses
// a user not in the allowed groups.
func (c Config) identity(claims map[string]any) (Identity, error) {
	id := Identity{}
	id.Subject, _ = claims["sub"].(string)
	if id.Subject == "" {
		return Identity{}, fmt.Errorf("the ID token has no subject (sub claim)")
	}
	// An unverified email is one the user typed: naming them by it would
	// hand them the roles of whoever owns that address.
	verified, hasVerified := claims["email_verified"].(bool)
	unverified := hasVerified && !verified
	if email, _ := claims["email"].(string); !unverified {
		id.Email = email
	}

	claim := cmp.Or(c.UsernameClaim, DefaultUsernameClaim)
	name, ok := claims[claim].(string)
	switch {
	case claims[claim] != nil && !ok:
		return Identity{}, fmt.Errorf("the ID token's %s claim (%susernameClaim) is not a string", claim, fieldPrefix)
	case claim == "email" && name != "" && unverified:
		return Identity{}, fmt.Errorf("the identity provider says the email %s is not verified; verify it there, then log in again", name)
	case name == "" && c.UsernameClaim == "":
		name = id.Subject // the default falls back to the one claim every token has
	case name == "":
		return Identity{}, fmt.Errorf("the ID token has no %s claim (%susernameClaim); ask the identity provider to send it, or name another claim", claim, fieldPrefix)
	}
	id.Name = name

	groups, err := stringList(claims, cmp.Or(c.GroupsClaim, DefaultGroupsClaim))
	if err != nil {
		return Identity{}, err
	}
	id.Groups = groups

	if len(c.AllowedGroups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(c.AllowedGroups, g) }) {
		has := "no groups"
		if len(groups) > 0 {
			has = "groups " + strings.Join(groups, ", ")
		}
		return Identity{}, fmt.Errorf("%w: %s has %s, and only members of %s may log in",
			ErrNotAllowed, id.Name, has, strings.Join(c.AllowedGroups, ", "))
	}
	return id, nil
}

// stringList reads a claim that holds a list of strings or one string.
func stringList(claims map[string]any, claim string) ([]string, error) {
	bad := fmt.Errorf("the ID token's %s claim (%sgroupsClaim) must be a list of strings or one string", claim, fieldPrefix)
	switch v := claims[claim].(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, len(v))
		for i, g := range v {
			s, ok := g.(string)
			if !ok {
				return nil, bad
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, bad
	}
}
