package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"idem/policy"
)

// withPolicy opens the database and the policy as serve does, runs fn, and
// closes both (refusing a SQLite file that does not exist); a command's changes reach running servers through the
// policy version they poll.
func withPolicy(ctx context.Context, cfg Config, stderr io.Writer, fn func(a *policy.Authorizer) error) error {
	if err := requireDB(cfg.DB); err != nil {
		return err
	}
	return withStore(ctx, cfg, stderr, func(o *opened) error { return fn(o.authz) })
}

// namedFlags parses "NAME --flag…" or "--flag… NAME": the configuration
// flags, extra's, and exactly one name.
func namedFlags(cmd string, cfg *Config, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (string, error) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := newFlags(cmd, " NAME", cfg, stderr, storeFlags, extra)
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "" || len(rest) > 0 {
		return "", fmt.Errorf("usage: idem %s NAME [flags]", cmd)
	}
	return name, nil
}

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseExpiry reads "90d", "12h" or a date (2026-12-31) as a time after now;
// "" is never.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" || s == "never" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: use days (90d), a duration (12h) or a date (2026-12-31)", s)
}

func showTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// clientCommand runs "idem client add|list|revoke|rotate".
func clientCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "add":
		return clientAdd(ctx, cfg, args, stdout, stderr)
	case "list":
		if err := commandFlags("client list", &cfg, args, stderr, nil); err != nil {
			return err
		}
		return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error { return clientList(ctx, a, stdout) })
	case "revoke":
		name, err := namedFlags("client revoke", &cfg, args, stderr, nil)
		if err != nil {
			return err
		}
		return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error {
			if err := a.RevokeClient(ctx, name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked client %s: its token no longer works and its identifier domains are free\n", name)
			return nil
		})
	case "rotate":
		return clientRotate(ctx, cfg, args, stdout, stderr)
	}
	return fmt.Errorf("usage: idem client add NAME --system URI --role ROLE [--domain SYSTEM]... [--expires 90d] [--jwks FILE] | client list | client revoke NAME | client rotate NAME [--expires 90d]")
}

func clientAdd(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var c policy.Client
	var roles, domains listFlag
	var expires, jwksFile string
	name, err := namedFlags("client add", &cfg, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&c.System, "system", "", "the client's system URI: its identifier namespace or base URL")
		fs.Var(&roles, "role", "a role: source, reader, steward, admin (repeatable)")
		fs.Var(&domains, "domain", "an identifier system the client owns, e.g. urn:oid:1.2.3 (repeatable)")
		fs.StringVar(&expires, "expires", "", "token expiry: 90d, 12h or 2026-12-31 (default: never)")
		fs.StringVar(&jwksFile, "jwks", "", "a JWK Set file of the client's public keys: SMART Backend Services, and no static token")
	})
	if err != nil {
		return err
	}
	if jwksFile != "" {
		data, err := os.ReadFile(jwksFile)
		if err != nil {
			return fmt.Errorf("--jwks: %w", err)
		}
		c.JWKS = string(data)
	}
	c.Name, c.Roles, c.Domains = name, roles, domains
	if c.Expires, err = parseExpiry(expires, time.Now()); err != nil {
		return err
	}
	return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error {
		token, err := a.AddClient(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added client %s\n  system:  %s\n  roles:   %s\n  domains: %s\n  expires: %s\n",
			c.Name, c.System, strings.Join(c.Roles, ", "), orNone(c.Domains), showTime(c.Expires, "never"))
		if token == "" {
			printKeys(stdout, c.JWKS)
			return nil
		}
		printToken(stdout, token)
		return nil
	})
}

// printToken shows a new token once, alone on the last line (for scripts:
// idem client add … | tail -1).
func printToken(w io.Writer, token string) {
	fmt.Fprintln(w, "bearer token (shown only now; idem keeps only its hash):")
	fmt.Fprintln(w, token)
}

// printKeys tells how a client registered with public keys authenticates.
// It has no static token, so the last line, where a token would be, says
// so (a script taking the last line as a token fails at its first request
// rather than holding a secret that is not one).
func printKeys(w io.Writer, jwks string) {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	json.Unmarshal([]byte(jwks), &set) // policy has validated it
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	fmt.Fprintf(w, "  keys:    %s\n", strings.Join(kids, ", "))
	fmt.Fprintf(w, "SMART Backend Services: the client signs a JWT assertion with one of these keys and POSTs it to /auth/token\n"+
		"for a bearer token valid %d minutes (discovery: /fhir/.well-known/smart-configuration).\n", int(policy.AccessTokenTTL.Minutes()))
	fmt.Fprintln(w, "no static bearer token (idem client rotate gives it one)")
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func clientList(ctx context.Context, a *policy.Authorizer, stdout io.Writer) error {
	cs, err := a.Clients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tROLES\tDOMAINS\tSYSTEM\tCREATED\tEXPIRES")
	now := time.Now()
	for _, c := range cs {
		status := "active"
		switch {
		case !c.Revoked.IsZero():
			status = "revoked " + showTime(c.Revoked, "")
		case !c.Active(now):
			status = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, status, strings.Join(c.Roles, ","), orNone(c.Domains),
			c.System, showTime(c.Created, ""), showTime(c.Expires, "never"))
	}
	return tw.Flush()
}

func clientRotate(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var expires string
	name, err := namedFlags("client rotate", &cfg, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&expires, "expires", "", "expiry of the new token: 90d, 12h or 2026-12-31 (default: never)")
	})
	if err != nil {
		return err
	}
	exp, err := parseExpiry(expires, time.Now())
	if err != nil {
		return err
	}
	return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error {
		token, err := a.RotateToken(ctx, name, exp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new token for client %s (the old one no longer works), expires %s\n", name, showTime(exp, "never"))
		printToken(stdout, token)
		return nil
	})
}

// userCommand runs "idem user add|passwd|list".
func userCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var roles listFlag
	var password string
	pwFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&password, "password", "", "the password (default: generate one and print it once)")
	}
	switch sub {
	case "add":
		name, err := namedFlags("user add", &cfg, args, stderr, func(fs *flag.FlagSet) {
			fs.Var(&roles, "role", "steward or admin (repeatable)")
			pwFlag(fs)
		})
		if err != nil {
			return err
		}
		return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error {
			pw, generated := choosePassword(password)
			if err := a.AddUser(ctx, name, pw, roles); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "added user %s (%s)\n", name, strings.Join(roles, ", "))
			printPassword(stdout, name, pw, generated)
			return nil
		})
	case "passwd":
		name, err := namedFlags("user passwd", &cfg, args, stderr, pwFlag)
		if err != nil {
			return err
		}
		return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error {
			pw, generated := choosePassword(password)
			if err := a.SetPassword(ctx, name, pw); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "changed the password of %s and ended its sessions\n", name)
			printPassword(stdout, name, pw, generated)
			return nil
		})
	case "list":
		if err := commandFlags("user list", &cfg, args, stderr, nil); err != nil {
			return err
		}
		return withPolicy(ctx, cfg, stderr, func(a *policy.Authorizer) error { return userList(ctx, a, stdout) })
	}
	return fmt.Errorf("usage: idem user add NAME --role steward|admin [--password P] | user passwd NAME [--password P] | user list")
}

func choosePassword(given string) (pw string, generated bool) {
	if given != "" {
		return given, false
	}
	return policy.GeneratePassword(), true
}

func printPassword(w io.Writer, name, pw string, generated bool) {
	if generated {
		fmt.Fprintf(w, "password for %s (shown only now):\n%s\n", name, pw)
	}
}

func userList(ctx context.Context, a *policy.Authorizer, stdout io.Writer) error {
	us, err := a.Users(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLES\tCREATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, strings.Join(u.Roles, ","), showTime(u.Created, ""))
	}
	return tw.Flush()
}
