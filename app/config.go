package app

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"idem/matching"
	"idem/policy"
	"idem/seed"
	"idem/web"
)

// Config is idem's configuration: defaults, overridden by IDEM_* environment
// variables, overridden by flags.
type Config struct {
	Addr        string        // IDEM_ADDR, --addr
	DB          string        // IDEM_DB, --db: SQLite file path or postgres:// DSN
	BaseURL     string        // IDEM_BASE_URL, --base-url: public FHIR base URL
	MaxBody     int           // IDEM_MAX_BODY, --max-body: request body limit in bytes
	LogLevel    string        // IDEM_LOG_LEVEL, --log-level: debug, info, warn, error
	LogFormat   string        // IDEM_LOG_FORMAT, --log-format: text or json
	ShutdownFor time.Duration // IDEM_SHUTDOWN_TIMEOUT, --shutdown-timeout
	MatchRules  string        // IDEM_MATCH_RULES, --match-rules: a match rules JSON file replacing the embedded default
	Seed        bool          // IDEM_SEED, --demo: load the demo network into an empty database on start
	MaxRepeats  string        // IDEM_MAX_REPEATS, --max-repeats: limits on repeating elements, e.g. "identifier=100,*=1000"
	// Access control.
	AdminToken    string  // IDEM_ADMIN_TOKEN: bootstraps an admin client "admin" with this bearer token
	AdminPassword string  // IDEM_ADMIN_PASSWORD: the admin UI user "admin"'s password (generated and printed once when unset on first start)
	Sharing       string  // IDEM_SHARING, --sharing: sharing architecture per type, e.g. "Patient=shared-registry,Practitioner=linked"
	Authoritative string  // IDEM_AUTHORITATIVE, --authoritative: source-of-truth clients per type, e.g. "Patient=ehr-main"
	Rate          float64 // IDEM_RATE, --rate: requests per second per client or user (0: unlimited)
	// TrustedProxies (IDEM_TRUSTED_PROXIES, --trusted-proxies) are the
	// comma-separated IPs and CIDR ranges whose X-Forwarded-* headers count.
	TrustedProxies string
	// Metrics. /metrics on Addr answers admin clients and MetricsToken
	// (IDEM_METRICS_TOKEN); with MetricsAddr (IDEM_METRICS_ADDR,
	// --metrics-addr) it is served there instead, without authentication,
	// for a scraper on a private network.
	MetricsToken string
	MetricsAddr  string
	// AuditReads (IDEM_AUDIT_READS, --audit-reads) audits reads, searches,
	// $match, $ihe-pix and $export kick-offs, written in batches.
	AuditReads bool

	// auditEvery is how often read audit events are written (0: every
	// second); tests shorten it.
	auditEvery time.Duration

	// demo is the network loaded on first start (nil: seed.Demo()); tests
	// load a small one, and hold its start with demoGate until they have
	// looked at the server loading.
	demo     *seed.Config
	demoGate chan struct{}
	// OutboundAllow (IDEM_OUTBOUND_ALLOW, --outbound-allow) is the
	// comma-separated host or host:port list idem may call (subscription
	// endpoints, peers); empty: nobody.
	OutboundAllow string
	// RetryMin (IDEM_RETRY_MIN, --retry-min) is the first back-off of a
	// failed delivery or pull; it doubles up to RetryMax (IDEM_RETRY_MAX).
	RetryMin, RetryMax time.Duration
	// Heartbeat (IDEM_HEARTBEAT_MIN) is the shortest heartbeat period a
	// subscription may ask for.
	Heartbeat time.Duration
	// Unsolicited (IDEM_UNSOLICITED, --unsolicited) says per client and
	// type whether pushed records are accepted, reviewed by a steward
	// first or refused, e.g. "ehr-main:Patient=review,*:Location=refuse".
	Unsolicited string
	// FederatedTimeout (IDEM_FEDERATED_TIMEOUT, --federated-timeout) is
	// how long a _federated=true search waits for each peer; FederatedTTL
	// (IDEM_FEDERATED_TTL) how long its frozen result set is kept for paging.
	FederatedTimeout, FederatedTTL time.Duration
	// HeldPoll (IDEM_HELD_POLL) is how often held writes waiting for
	// references are tried again.
	HeldPoll time.Duration
	// Self-calibration of matching: AutoTrain (IDEM_MATCH_AUTOTRAIN) trains
	// a candidate model after bulk loads and when a type's records grew by
	// RetrainGrowth (IDEM_MATCH_RETRAIN_GROWTH, a share) since its last
	// model; AutoApply (IDEM_MATCH_AUTOAPPLY) applies it without a steward.
	AutoTrain, AutoApply bool
	RetrainGrowth        float64
	// growthEvery is how often the growth is checked (0: every minute).
	growthEvery time.Duration
	// JobLease (IDEM_JOB_LEASE) is how long a worker holds a job of the
	// job table (import, export, re-match) between checkpoints before
	// another instance may take it over (0: bulk's default, 30s).
	JobLease time.Duration
	// EventRetention (IDEM_EVENT_RETENTION, --event-retention) is how long
	// delivered subscription events are kept for $events and resend.
	EventRetention time.Duration
	// SecretKey (IDEM_SECRET_KEY, base64 of 32 bytes) seals the
	// credentials idem stores for calling other servers; or SecretKeyFile
	// (IDEM_SECRET_KEY_FILE) holds it. Without either, a SQLite database
	// gets a key file beside it on first start (secrets.go); PostgreSQL
	// needs one configured as soon as any secret is stored.
	// SecretKeyOld (IDEM_SECRET_KEY_OLD, comma-separated) are earlier
	// keys still accepted for reading while `idem secrets rotate` runs.
	SecretKey, SecretKeyFile, SecretKeyOld string
	// PullOverlap (IDEM_PULL_OVERLAP) is how much of a peer's history
	// each pull reads again behind its cursor, deduplicated by version:
	// it covers clocks of the peer's instances that disagree and late
	// commits (default 5 minutes).
	PullOverlap time.Duration
	// now is the clock of writes and of the exchange (nil: time.Now);
	// tests give an instance a skewed one.
	now func() time.Time
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Addr:        ":8080",
		DB:          "idem.db",
		MaxBody:     32 << 20,
		LogLevel:    "info",
		LogFormat:   "text",
		ShutdownFor: 30 * time.Second,
		Seed:        true,
		Rate:        200,
		RetryMin:    time.Second,
		RetryMax:    10 * time.Minute,
		Heartbeat:   10 * time.Second,
		AuditReads:  true,

		FederatedTimeout: 5 * time.Second,
		FederatedTTL:     10 * time.Minute,
		HeldPoll:         time.Second,
		AutoTrain:        true,
		RetrainGrowth:    0.2,
		EventRetention:   30 * 24 * time.Hour,
	}
}

// configFlags registers the configuration flags on fs, with defaults taken
// from cfg (already merged with the environment).
func configFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (IDEM_ADDR)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file or postgres:// DSN (IDEM_DB)")
	fs.StringVar(&cfg.BaseURL, "base-url", cfg.BaseURL, "public FHIR base URL, e.g. https://idem.example.org/fhir (IDEM_BASE_URL)")
	fs.IntVar(&cfg.MaxBody, "max-body", cfg.MaxBody, "request body limit in bytes (IDEM_MAX_BODY)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (IDEM_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json (IDEM_LOG_FORMAT)")
	fs.StringVar(&cfg.Sharing, "sharing", cfg.Sharing, "sharing architecture per resource type, e.g. Patient=shared-registry,Practitioner=linked (IDEM_SHARING)")
	fs.StringVar(&cfg.Authoritative, "authoritative", cfg.Authoritative, "source-of-truth clients per type, e.g. Patient=ehr-main (IDEM_AUTHORITATIVE)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "requests per second per client or user, 0 for no limit (IDEM_RATE)")
	fs.StringVar(&cfg.MaxRepeats, "max-repeats", cfg.MaxRepeats, "limits on repeating elements over the defaults, e.g. identifier=100,name=20,*=1000 (IDEM_MAX_REPEATS)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", cfg.TrustedProxies, "comma-separated IPs and CIDR ranges of reverse proxies whose X-Forwarded-For/-Host/-Proto headers count (IDEM_TRUSTED_PROXIES)")
	fs.BoolVar(&cfg.AuditReads, "audit-reads", cfg.AuditReads, "audit reads, searches, $match, $ihe-pix and $export kick-offs as AuditEvents, written in batches (IDEM_AUDIT_READS)")
	fs.BoolVar(&cfg.Seed, "demo", cfg.Seed, "load the demo network into an empty database on start (IDEM_SEED)")
	fs.StringVar(&cfg.MatchRules, "match-rules", cfg.MatchRules, "match rules JSON file replacing the built-in rules (IDEM_MATCH_RULES)")
	fs.BoolVar(&cfg.AutoTrain, "match-autotrain", cfg.AutoTrain, "train a candidate matching model after bulk loads and on growth (IDEM_MATCH_AUTOTRAIN)")
	fs.BoolVar(&cfg.AutoApply, "match-autoapply", cfg.AutoApply, "apply automatically trained models without a steward (IDEM_MATCH_AUTOAPPLY)")
	fs.Float64Var(&cfg.RetrainGrowth, "match-retrain-growth", cfg.RetrainGrowth, "share by which a type's records must grow before it is trained again (IDEM_MATCH_RETRAIN_GROWTH)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "serve /metrics on this address instead, without authentication, e.g. 127.0.0.1:9090 (IDEM_METRICS_ADDR)")
	fs.StringVar(&cfg.OutboundAllow, "outbound-allow", cfg.OutboundAllow, "comma-separated host or host:port idem may call: subscription endpoints, peers (IDEM_OUTBOUND_ALLOW; empty: none)")
	fs.DurationVar(&cfg.RetryMin, "retry-min", cfg.RetryMin, "first back-off after a failed delivery or pull (IDEM_RETRY_MIN)")
	fs.DurationVar(&cfg.RetryMax, "retry-max", cfg.RetryMax, "longest back-off after failed deliveries or pulls (IDEM_RETRY_MAX)")
	fs.StringVar(&cfg.Unsolicited, "unsolicited", cfg.Unsolicited, "per client and type, accept, review or refuse pushed records, e.g. ehr-main:Patient=review,*:Location=refuse (IDEM_UNSOLICITED)")
	fs.DurationVar(&cfg.FederatedTimeout, "federated-timeout", cfg.FederatedTimeout, "how long a _federated=true search waits for each peer (IDEM_FEDERATED_TIMEOUT)")
	fs.DurationVar(&cfg.EventRetention, "event-retention", cfg.EventRetention, "how long delivered subscription events are kept for $events and resend (IDEM_EVENT_RETENTION)")
	fs.DurationVar(&cfg.ShutdownFor, "shutdown-timeout", cfg.ShutdownFor, "how long to wait for requests in flight on shutdown (IDEM_SHUTDOWN_TIMEOUT)")
}

// storeFlags registers what every command on an existing database takes:
// the database and the log settings.
func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file or postgres:// DSN (IDEM_DB)")
	logFlags(fs, cfg)
}

// logFlags registers the log settings.
func logFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (IDEM_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json (IDEM_LOG_FORMAT)")
}

// rulesFlag registers --match-rules, for the commands that match.
func rulesFlag(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.MatchRules, "match-rules", cfg.MatchRules, "match rules JSON file replacing the built-in rules (IDEM_MATCH_RULES)")
}

// fromEnv overrides cfg with the IDEM_* variables that are set.
func (cfg *Config) fromEnv(getenv func(string) string) error {
	str := map[string]*string{
		"IDEM_ADDR": &cfg.Addr, "IDEM_DB": &cfg.DB, "IDEM_BASE_URL": &cfg.BaseURL,
		"IDEM_LOG_LEVEL": &cfg.LogLevel, "IDEM_LOG_FORMAT": &cfg.LogFormat, "IDEM_MATCH_RULES": &cfg.MatchRules,
		"IDEM_ADMIN_TOKEN": &cfg.AdminToken, "IDEM_ADMIN_PASSWORD": &cfg.AdminPassword,
		"IDEM_SHARING": &cfg.Sharing, "IDEM_AUTHORITATIVE": &cfg.Authoritative, "IDEM_UNSOLICITED": &cfg.Unsolicited,
		"IDEM_MAX_REPEATS":     &cfg.MaxRepeats,
		"IDEM_TRUSTED_PROXIES": &cfg.TrustedProxies,
		"IDEM_METRICS_TOKEN":   &cfg.MetricsToken, "IDEM_METRICS_ADDR": &cfg.MetricsAddr,
		"IDEM_OUTBOUND_ALLOW": &cfg.OutboundAllow,
		"IDEM_SECRET_KEY":     &cfg.SecretKey, "IDEM_SECRET_KEY_FILE": &cfg.SecretKeyFile, "IDEM_SECRET_KEY_OLD": &cfg.SecretKeyOld,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("IDEM_MAX_BODY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("IDEM_MAX_BODY: %q is not a positive number of bytes", v)
		}
		cfg.MaxBody = n
	}
	if v := getenv("IDEM_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			return fmt.Errorf("IDEM_RATE: %q is not a number of requests per second", v)
		}
		cfg.Rate = r
	}
	if v := getenv("IDEM_MATCH_RETRAIN_GROWTH"); v != "" {
		g, err := strconv.ParseFloat(v, 64)
		if err != nil || g <= 0 {
			return fmt.Errorf("IDEM_MATCH_RETRAIN_GROWTH: %q is not a positive share (0.2 is 20 %%)", v)
		}
		cfg.RetrainGrowth = g
	}
	for k, p := range map[string]*bool{"IDEM_SEED": &cfg.Seed, "IDEM_AUDIT_READS": &cfg.AuditReads,
		"IDEM_MATCH_AUTOTRAIN": &cfg.AutoTrain, "IDEM_MATCH_AUTOAPPLY": &cfg.AutoApply} {
		if v := getenv(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", k, v)
			}
			*p = b
		}
	}
	durations := map[string]*time.Duration{"IDEM_SHUTDOWN_TIMEOUT": &cfg.ShutdownFor,
		"IDEM_RETRY_MIN": &cfg.RetryMin, "IDEM_RETRY_MAX": &cfg.RetryMax, "IDEM_HEARTBEAT_MIN": &cfg.Heartbeat,
		"IDEM_FEDERATED_TIMEOUT": &cfg.FederatedTimeout, "IDEM_FEDERATED_TTL": &cfg.FederatedTTL, "IDEM_HELD_POLL": &cfg.HeldPoll,
		"IDEM_JOB_LEASE": &cfg.JobLease, "IDEM_EVENT_RETENTION": &cfg.EventRetention, "IDEM_PULL_OVERLAP": &cfg.PullOverlap}
	for k, p := range durations {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s: %q is not a positive duration", k, v)
			}
			*p = d
		}
	}
	return nil
}

// logger builds the slog logger the configuration asks for.
func (cfg *Config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.LogFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", cfg.LogFormat)
}

// policyConfig is the policy package's configuration.
func (cfg *Config) policyConfig(log *slog.Logger) (policy.Config, error) {
	modes, err := policy.ParseModes(cfg.Sharing)
	if err != nil {
		return policy.Config{}, fmt.Errorf("sharing: %w", err)
	}
	auth, err := policy.ParseAuthoritative(cfg.Authoritative)
	if err != nil {
		return policy.Config{}, fmt.Errorf("authoritative: %w", err)
	}
	intakes, err := policy.ParseIntakes(cfg.Unsolicited)
	if err != nil {
		return policy.Config{}, fmt.Errorf("unsolicited: %w", err)
	}
	return policy.Config{Modes: modes, Authoritative: auth, Intakes: intakes, Rate: cfg.Rate, Log: log}, nil
}

// proxies parses TrustedProxies.
func (cfg *Config) proxies() ([]netip.Prefix, error) {
	return web.ParseProxies(strings.Split(cfg.TrustedProxies, ","))
}

// rules loads the match rules: the file named by MatchRules, or the built-in default.
func (cfg *Config) rules() (*matching.Rules, error) {
	if cfg.MatchRules == "" {
		return matching.DefaultRules(), nil
	}
	data, err := os.ReadFile(cfg.MatchRules)
	if err != nil {
		return nil, fmt.Errorf("match rules: %w", err)
	}
	r, err := matching.ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("match rules %s: %w", cfg.MatchRules, err)
	}
	return r, nil
}
