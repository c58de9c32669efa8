package app

import (
	"context"
	"fmt"
	"log/slog"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/sqlstore"
)

// storeDB gives the exchange its tables in the registry's database, through
// the store's writer (SQLite has one).
type storeDB struct{ s *sqlstore.Store }

func (d storeDB) Read() *gorm.DB { return d.s.ReadDB() }
func (d storeDB) Write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return d.s.WriteDB(ctx, fn)
}
func (d storeDB) ReadIn(tx *gorm.DB, typ, id string, v int64) (*registry.Resource, error) {
	return d.s.ReadIn(tx, typ, id, v)
}

// bootstrapAccess creates what an operator needs to get in: the admin
// client with IDEM_ADMIN_TOKEN, and the admin UI user, whose password is
// IDEM_ADMIN_PASSWORD or, on first start without one, generated and
// logged once.
func bootstrapAccess(ctx context.Context, cfg Config, o *opened, log *slog.Logger) error {
	if cfg.AdminToken != "" {
		if err := o.authz.EnsureAdminClient(ctx, cfg.AdminToken); err != nil {
			return fmt.Errorf("IDEM_ADMIN_TOKEN: %w", err)
		}
	}
	generated, err := o.authz.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin user: %w", err)
	}
	if generated != "" {
		log.Warn("admin UI user created; this password is shown only once", "user", "admin", "password", generated)
	}
	return nil
}

// auditSource names this instance in AuditEvents: its public base URL, or
// its listen address.
func auditSource(cfg Config) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	return "idem " + cfg.Addr
}
