package exchange

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/outbound"
	"idem/registry/secret"
)

// DB is idem's database as the exchange package uses it: a read pool, and
// writes through the store's writer (SQLite has one writer connection;
// the exchange tables share it rather than contend for the file lock).
type DB interface {
	Read() *gorm.DB
	Write(ctx context.Context, fn func(tx *gorm.DB) error) error
	// ReadIn reads version v of typ/id (0: the current one) in tx, a
	// transaction Write gave fn: as that transaction sees it. On SQLite a
	// Write may share its commit with the write that stored the version,
	// which other connections do not see until it commits.
	ReadIn(tx *gorm.DB, typ, id string, v int64) (*registry.Resource, error)
}

// Config configures delivery and pulling.
type Config struct {
	Allow        *outbound.Allow // the outbound allow-list; nil allows nothing
	Postgres     bool            // several instances may share the work
	Instance     string          // this instance's name in leases (unique per process)
	RetryMin     time.Duration   // first back-off after a failure (default 1s)
	RetryMax     time.Duration   // longest back-off (default 10 min)
	HeartbeatMin time.Duration   // shortest heartbeat period a subscription may ask for (default 10s)
	Timeout      time.Duration   // per HTTP call (default 10s)
	Poll         time.Duration   // how often an idle worker looks for work (default 250ms)
	Batch        int             // events per notification at most (default 100)
	Retention    time.Duration   // how long delivered events are kept (default DefaultRetention)
	PullOverlap  time.Duration   // history re-read behind a pull's cursor (default DefaultPullOverlap; pull_cursor.go)
	Now          func() time.Time
	// Secrets seals and opens the credentials stored for outbound calls
	// (secrets.go); nil: no key, so none can be stored.
	Secrets *secret.Keyring
}

// Service runs subscriptions, the endpoint registry and pulls.
type Service struct {
	db     DB
	reg    *registry.Service
	cfg    Config
	client *http.Client
	log    *slog.Logger
	wake   chan struct{}
	base   string     // this server's FHIR base, for fullUrl and references
	pruned time.Time  // when the worker last pruned delivered events
	tokens tokenCache // SMART access tokens for pulling
	// ActorFor resolves the idem client a peer's records are written as
	// (its roles and identifier domains); nil: no pulling.
	ActorFor func(ctx context.Context, client string) (registry.Actor, error)
}

// New returns the exchange service over db; reg is the registry whose
// write pipeline pulled records go through and whose versions notifications
// carry.
func New(db DB, reg *registry.Service, cfg Config, log *slog.Logger) *Service {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(10*time.Minute, cfg.RetryMin)
	}
	if cfg.HeartbeatMin <= 0 {
		cfg.HeartbeatMin = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.PullOverlap <= 0 {
		cfg.PullOverlap = DefaultPullOverlap
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Instance == "" {
		cfg.Instance = uuid.NewString()
	}
	return &Service{db: db, reg: reg, cfg: cfg, client: cfg.Allow.Client(cfg.Timeout), log: log, wake: make(chan struct{}, 1)}
}

// SetBase sets this server's FHIR base URL (known once it listens).
func (s *Service) SetBase(base string) { s.base = base }

// Wake tells the workers that new events may be waiting (a commit in this
// instance); other instances find them by polling.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) now() int64 { return s.cfg.Now().UnixMicro() }

// backoff is the wait after n consecutive failures: RetryMin doubled, up to RetryMax.
func (s *Service) backoff(n int64) time.Duration {
	d := s.cfg.RetryMin
	for i := int64(1); i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// mayManage reports whether a may read and change a subscription owned by owner.
func mayManage(a registry.Actor, owner string) bool {
	return a.HasRole("admin") || (a.Kind == "client" && a.Name == owner)
}

// timeOf turns a stored Unix-microsecond time into a time.Time.
func timeOf(us int64) time.Time { return time.UnixMicro(us).UTC() }
