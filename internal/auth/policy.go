package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/auth/oidc"

	"sigs.k8s.io/yaml"
)

// Permission is a right on an application. Each includes the ones before
// it.
type Permission int

const (
	// Read sees the application's pipelines, executions and audit log.
	Read Permission = iota + 1
	// Execute runs, judges, cancels, pauses, resumes, restarts and rolls
	// back its executions.
	Execute
	// Write saves and deletes its pipelines.
	Write
)

func (p Permission) String() string {
	switch p {
	case Read:
		return "read"
	case Execute:
		return "execute"
	case Write:
		return "write"
	}
	return fmt.Sprintf("Permission(%d)", int(p))
}

// AllApplications in Config.Applications grants on every application.
const AllApplications = "*"

// DefaultSessionTTL is how long a console session lasts unless
// Config.SessionTTL says otherwise.
const DefaultSessionTTL = 12 * time.Hour

// Config is the auth section of sluice.yaml. Its zero value makes only
// admins (the admin token, its login links, tokens with the role admin)
// able to do anything.
type Config struct {
	// Admins are subjects with every right, as the role admin has.
	Admins []string `json:"admins,omitempty"`
	// Applications grants rights per application name; the key "*"
	// grants on every application.
	Applications map[string]Grants `json:"applications,omitempty"`
	// SessionTTL is how long a console session lasts (DefaultSessionTTL),
	// as a Go duration ("8h").
	SessionTTL string `json:"sessionTtl,omitempty"`
	// OIDC configures single sign-on for the console; nil offers none.
	OIDC *oidc.Config `json:"oidc,omitempty"`
}

// Grants lists the subjects that have each right: a role, "user:NAME",
// "token:NAME", or "application:NAME" — the pipelines of application NAME,
// which with execute may start this application's pipelines (a pipeline
// stage, a pipeline trigger). No person or token is ever an application.
type Grants struct {
	Read    []string `json:"read,omitempty"`
	Execute []string `json:"execute,omitempty"`
	Write   []string `json:"write,omitempty"`
}

// LoadConfig reads the auth section of the sluice.yaml at path; the file
// may have no auth section.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read auth config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads the auth section of a sluice.yaml document.
func ParseConfig(doc []byte) (Config, error) {
	var file struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := yaml.Unmarshal(doc, &file); err != nil {
		return Config{}, fmt.Errorf("auth: %w", err)
	}
	var cfg Config
	if len(file.Auth) == 0 || string(file.Auth) == "null" {
		return cfg, nil
	}
	dec := json.NewDecoder(bytes.NewReader(file.Auth))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("auth: %w (known fields: admins, applications, sessionTtl, oidc; applications.NAME has read, execute, write)", err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c Config) validate() error {
	var errs []error
	checkSubjects := func(path string, subjects []string) {
		for i, s := range subjects {
			if strings.TrimSpace(s) == "" {
				errs = append(errs, fmt.Errorf("%s[%d] is empty; name a role, user:NAME or token:NAME", path, i))
			}
		}
	}
	checkSubjects("auth.admins", c.Admins)
	for app, g := range c.Applications {
		if app == "" {
			errs = append(errs, errors.New(`auth.applications has an empty application name; use "*" for every application`))
		}
		checkSubjects("auth.applications."+app+".read", g.Read)
		checkSubjects("auth.applications."+app+".execute", g.Execute)
		checkSubjects("auth.applications."+app+".write", g.Write)
	}
	if _, err := c.sessionTTL(); err != nil {
		errs = append(errs, err)
	}
	if c.OIDC != nil {
		if err := c.OIDC.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) sessionTTL() (time.Duration, error) {
	if c.SessionTTL == "" {
		return DefaultSessionTTL, nil
	}
	d, err := time.ParseDuration(c.SessionTTL)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("auth.sessionTtl %q is not a duration of a minute or more, such as \"8h\"", c.SessionTTL)
	}
	return d, nil
}

// Policy answers who may do what. It is built once from Config and is
// safe for concurrent use.
type Policy struct {
	admins []string
	apps   map[string]Grants
}

// NewPolicy returns the policy of cfg, which ParseConfig has validated.
func NewPolicy(cfg Config) *Policy {
	return &Policy{admins: cfg.Admins, apps: cfg.Applications}
}

// IsAdmin reports whether p may do everything.
func (pol *Policy) IsAdmin(p *Principal) bool {
	if p == nil {
		return false
	}
	return p.HasRole(RoleAdmin) || slices.ContainsFunc(pol.admins, p.matches)
}

// Allows reports whether p has perm on application app.
func (pol *Policy) Allows(p *Principal, app string, perm Permission) bool {
	if p == nil {
		return false
	}
	if pol.IsAdmin(p) {
		return true
	}
	for _, key := range []string{app, AllApplications} {
		g, ok := pol.apps[key]
		if !ok {
			continue
		}
		for level, subjects := range map[Permission][]string{Read: g.Read, Execute: g.Execute, Write: g.Write} {
			if level >= perm && slices.ContainsFunc(subjects, p.matches) {
				return true
			}
		}
	}
	return false
}

// ApplicationSubject is the prefix of a grant subject that names an
// application (Grants).
const ApplicationSubject = "application:"

// CheckApplication says whether executions of application from may start
// executions of application to: a pipeline stage in from that runs a
// pipeline of to, or a pipeline trigger of to that fires when a pipeline
// of from ends. An application may always start its own; another needs
// "application:FROM" under auth.applications.TO.execute (or under "*").
func (pol *Policy) CheckApplication(from, to string) error {
	if from == to {
		return nil
	}
	subject := ApplicationSubject + from
	for _, key := range []string{to, AllApplications} {
		g := pol.apps[key]
		if slices.Contains(g.Execute, subject) || slices.Contains(g.Write, subject) {
			return nil
		}
	}
	return &DeniedError{Principal: subject, Msg: fmt.Sprintf(
		"pipelines of application %s may not start pipelines of application %s; an admin allows it with %q under auth.applications.%s.execute in sluice.yaml",
		from, to, subject, to)}
}

// Check is Allows as an error that says what is missing and how to get it.
func (pol *Policy) Check(p *Principal, app string, perm Permission) error {
	if pol.Allows(p, app, perm) {
		return nil
	}
	return &DeniedError{Principal: p.Name, Msg: fmt.Sprintf("%s may not %s application %s; an admin grants it under auth.applications.%s.%s in sluice.yaml",
		p.Name, verb(perm), app, app, perm)}
}

// CheckAdmin is IsAdmin as an error.
func (pol *Policy) CheckAdmin(p *Principal, what string) error {
	if pol.IsAdmin(p) {
		return nil
	}
	return &DeniedError{Principal: p.Name, Msg: fmt.Sprintf("only admins may %s; %s is not one (the role %s, or auth.admins in sluice.yaml)", what, p.Name, RoleAdmin)}
}

// CheckJudge decides whether p may judge a manualJudgment stage that
// requires one of roles (Orca's requiredJudgmentRoles, falling back to
// selectedStageRoles; none means anyone who may execute). Admins may, as
// Orca lets Fiat admins.
func (pol *Policy) CheckJudge(p *Principal, roles []string) error {
	if len(roles) == 0 || pol.IsAdmin(p) || slices.ContainsFunc(roles, p.HasRole) {
		return nil
	}
	return &DeniedError{Principal: p.Name, Msg: fmt.Sprintf("this judgment needs one of the roles %s, and %s has %s",
		strings.Join(roles, ", "), p.Name, rolesText(p.Roles))}
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}

func verb(p Permission) string {
	switch p {
	case Read:
		return "read"
	case Execute:
		return "run or operate executions of"
	default:
		return "save or delete pipelines of"
	}
}

// DeniedError says a principal lacks a right.
type DeniedError struct {
	Principal string
	Msg       string
}

func (e *DeniedError) Error() string { return e.Msg }
