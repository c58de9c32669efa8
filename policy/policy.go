// Package policy decides who may do what in idem. It keeps the principals
// (client systems with bearer tokens, stewards with passwords and sessions),
// the Casbin model and rules (built in, plus rules an admin adds at run time),
// the identifier domains each client owns (one identity source per domain,
// IHE ITI-104) and the sharing architecture of each resource type, and
// answers one question with an explanation: Authorizer.Decide.
//
// It imports nothing of the project and no database: what it keeps between
// requests is behind the Store interface (implemented over the registry's
// database in registry/sqlstore/policystore). The web layer hands it the
// actor of a request (Principal, the shape of registry.Actor) and gets a
// Decision back.
package policy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

// Errors returned by policy; callers match them with errors.Is.
var (
	// ErrUnauthenticated is a missing, unknown, expired or revoked credential.
	// Login returns it alike for an unknown user and a wrong password.
	ErrUnauthenticated = errors.New("invalid or expired credentials")
	// ErrNotFound is an unknown client, user or rule.
	ErrNotFound = errors.New("not found")
	// ErrExists is a client, user or rule that already exists, or an
	// identifier domain that another client owns.
	ErrExists = errors.New("already exists")
	// ErrInvalid is a malformed name, role, URI, rule or configuration.
	ErrInvalid = errors.New("invalid")
)

// kindError is a policy error with a message of its own that errors.Is
// matches against its kind (ErrNotFound, ErrExists…).
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error with its own message that errors.Is matches
// against kind (ErrNotFound, ErrExists…); a Store reports with it.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func errorf(kind error, format string, args ...any) error { return Errorf(kind, format, args...) }

// Config configures an Authorizer. The zero value is usable.
type Config struct {
	// Modes is the sharing architecture per resource type; types not
	// listed are Linked. Nil means DefaultModes.
	Modes Modes
	// Authoritative names, per source-of-truth resource type, the clients
	// that may write it.
	Authoritative map[string][]string
	// Intakes says, per client and type, whether pushed records are
	// stored, reviewed by a steward first, or refused (intake.go).
	Intakes Intakes
	// StrictDomains refuses writes carrying identifiers in a domain no
	// client owns. Off by default: national identifiers (a social security
	// number, say) belong to no client and every source carries them.
	StrictDomains bool
	// Reload is how often the policy version in the store is polled, so
	// that instances sharing a store pick up each other's changes
	// (0: every 5 s; negative: never, as for one-shot commands).
	Reload time.Duration
	// SessionTTL is how long a steward session lives without use (0: 12 h).
	SessionTTL time.Duration
	// Rate and Burst configure the per-principal rate limit in requests per
	// second (Rate 0: unlimited; Burst 0: twice the rate, at least 1).
	Rate  float64
	Burst int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log receives reload errors (nil: discarded).
	Log *slog.Logger
}

const (
	defaultReload     = 5 * time.Second
	defaultSessionTTL = 12 * time.Hour
)

//go:embed model.conf
var modelText string

//go:embed default.csv
var defaultPolicy string

// Authorizer holds the principals, the rules and the configuration, and
// decides. It is safe for concurrent use.
type Authorizer struct {
	store   Store
	rules   *adapter // the stored rules Casbin loads next
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	enf     *casbin.SyncedCachedEnforcer
	limiter *Limiter

	reloadMu sync.Mutex            // one reload at a time, so an older load never replaces a newer
	state    atomic.Pointer[state] // what the last reload saw; swapped whole

	stop chan struct{}
	done chan struct{}
}

// state is a snapshot taken at one reload: the store's policy version,
// the domain owners, the known roles, and caches that are only valid for
// this snapshot (decisions and authenticated tokens).
type state struct {
	version  int64
	owners   map[string]string   // identifier system → owning client
	systems  map[string][]string // client system URI → clients registered with it (record owners)
	roles    map[string]bool     // role names the policy mentions
	subjects map[string]bool     // subjects the policy mentions; others match no rule
	// domainRules: some rule names an identifier domain other than *.
	domainRules bool
	memo        memo
	tokens      sync.Map // token hash → tokenEntry
}

// Open loads the rules and domain owners from store and (unless cfg.Reload
// is negative) starts polling it for changes made by other instances.
// Close stops the polling; the store stays the caller's.
func Open(ctx context.Context, store Store, cfg Config) (*Authorizer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("policy model: %w", err)
	}
	// The synchronized (cached) enforcer takes its write lock only to swap
	// in a newly loaded policy, so reloads are safe beside concurrent
	// evaluation. Its cache keeps booleans only; Decide memoises the
	// deciding rule as well (see memo).
	rules := &adapter{}
	enf, err := casbin.NewSyncedCachedEnforcer(m, rules)
	if err != nil {
		return nil, fmt.Errorf("policy: load rules: %w", err)
	}
	// Rules change through AddRule and RemoveRule (validated, in the
	// store's transaction with the version), never through the enforcer.
	enf.EnableAutoSave(false)
	a := &Authorizer{store: store, rules: rules, cfg: cfg, now: cfg.Now, log: cfg.Log, enf: enf,
		stop: make(chan struct{}), done: make(chan struct{})}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a.limiter = NewLimiter(cfg.Rate, cfg.Burst, a.now)
	if err := a.reload(ctx); err != nil {
		return nil, err
	}
	if cfg.Reload >= 0 {
		go a.poll(orDefault(cfg.Reload, defaultReload))
	} else {
		close(a.done)
	}
	return a, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (cfg *Config) check() error {
	if cfg.Modes == nil {
		cfg.Modes = DefaultModes()
	}
	for typ, m := range cfg.Modes {
		if !m.valid() {
			return errorf(ErrInvalid, "sharing mode %q for %s (use shared-registry, source-of-truth, linked or independent)", m, typ)
		}
		if m == SourceOfTruth && len(cfg.Authoritative[typ]) == 0 {
			return errorf(ErrInvalid, "%s is source-of-truth but no authoritative client is configured", typ)
		}
	}
	return nil
}

// Close stops polling for policy changes.
func (a *Authorizer) Close() error {
	select {
	case <-a.stop:
	default:
		if a.cfg.Reload >= 0 {
			close(a.stop)
		}
	}
	<-a.done
	return nil
}

func (a *Authorizer) poll(every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			if err := a.refresh(context.Background()); err != nil {
				a.log.Warn("policy reload failed; keeping the previous policy", "err", err)
			}
		}
	}
}

// refresh reloads if the store's policy version moved on. It costs one
// read of the one-row version table; Authenticate and Session call it on
// every request, so that a change committed by any instance or command (a
// revocation, a new domain owner, a rule) is in force on the next request.
func (a *Authorizer) refresh(ctx context.Context) error {
	v, err := a.store.Version(ctx)
	if err != nil {
		return fmt.Errorf("policy: read version: %w", err)
	}
	if v == a.state.Load().version {
		return nil
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.state.Load().version >= v {
		return nil // loaded by a concurrent request meanwhile
	}
	return a.load(ctx)
}

// Reload loads the rules and domain owners now (Open and every change made
// through this Authorizer do it themselves; other instances' changes arrive
// by polling).
func (a *Authorizer) Reload(ctx context.Context) error { return a.reload(ctx) }

func (a *Authorizer) reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return a.load(ctx)
}

// load reads the policy; the caller holds reloadMu.
func (a *Authorizer) load(ctx context.Context) error {
	// The store reads the version first: a change committed during the load
	// leaves the recorded version behind, so the next poll loads again.
	snap, err := a.store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("policy: load: %w", err)
	}
	a.rules.stored = snap.Rules
	if err := a.enf.LoadPolicy(); err != nil {
		return fmt.Errorf("policy: load rules: %w", err)
	}
	s := &state{version: snap.Version, owners: owners(snap.Owners), systems: systems(snap.Clients)}
	objects, err := a.scanRules(s)
	if err != nil {
		return err
	}
	a.warm(s, objects)
	// Swapped after the enforcer holds the new rules: whoever sees the new
	// state also sees the new rules, so no stale decision enters its memo.
	a.state.Store(s)
	return nil
}

// Version returns the policy version this Authorizer last loaded.
func (a *Authorizer) Version() int64 { return a.state.Load().version }

// owners are the domain owners by canonical domain (read again in canonical
// form, so that a spelling stored by an older version still matches).
func owners(stored map[string]string) map[string]string {
	out := make(map[string]string, len(stored))
	for d, c := range stored {
		out[CanonicalDomain(d)] = c
	}
	return out
}

// changed puts a change committed to the store in force here at once (the
// store advanced the version; other instances reload at their next poll).
func (a *Authorizer) changed(ctx context.Context, err error) error {
	if err != nil {
		return err
	}
	return a.reload(ctx)
}

// Allow applies the per-principal rate limit: ok, or how long to wait.
func (a *Authorizer) Allow(name string) (ok bool, retryAfter time.Duration) {
	return a.limiter.Allow(name)
}
