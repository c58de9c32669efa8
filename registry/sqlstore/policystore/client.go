package policystore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/policy"
)

type clientRow struct {
	Name, System, Roles, Domains, JWKS string
	Created, Expires, Revoked          int64
}

func (r clientRow) client() policy.Client {
	return policy.Client{Name: r.Name, System: r.System, Roles: unlist(r.Roles), Domains: unlist(r.Domains),
		Created: fromMicro(r.Created), Expires: fromMicro(r.Expires), Revoked: fromMicro(r.Revoked), JWKS: r.JWKS}
}

const selectClient = `SELECT name, system, roles, domains, created, expires, revoked, COALESCE(k.jwks, '') AS jwks
	FROM policy_clients LEFT JOIN policy_client_keys k ON k.client = policy_clients.name`

func (s *Store) clients(ctx context.Context, where string, args ...any) ([]policy.Client, error) {
	var rows []clientRow
	if err := s.read(ctx).Raw(selectClient+where, args...).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]policy.Client, len(rows))
	for i, r := range rows {
		out[i] = r.client()
	}
	return out, nil
}

// Clients lists every client by name.
func (s *Store) Clients(ctx context.Context) ([]policy.Client, error) {
	return s.clients(ctx, ` ORDER BY name`)
}

// Client returns the named client.
func (s *Store) Client(ctx context.Context, name string) (policy.Client, error) {
	cs, err := s.clients(ctx, ` WHERE name = ?`, name)
	if err != nil {
		return policy.Client{}, err
	}
	if len(cs) == 0 {
		return policy.Client{}, policy.Errorf(policy.ErrNotFound, "no client %s", name)
	}
	return cs[0], nil
}

// ClientByToken returns the client whose static token hashes to tokenHash.
func (s *Store) ClientByToken(ctx context.Context, tokenHash string) (policy.Client, error) {
	cs, err := s.clients(ctx, ` WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return policy.Client{}, err
	}
	if len(cs) == 0 {
		return policy.Client{}, policy.Errorf(policy.ErrNotFound, "no client with this token")
	}
	return cs[0], nil
}

// AddClient stores a new client, its keys and its owned domains.
func (s *Store) AddClient(ctx context.Context, c policy.NewClient) error {
	err := s.change(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM policy_clients WHERE name = ?`, c.Name).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return policy.Errorf(policy.ErrExists, "client %s already exists", c.Name)
		}
		if err := claim(tx, c.Name, c.Owned); err != nil {
			return err
		}
		if c.JWKS != "" {
			if err := tx.Exec(`INSERT INTO policy_client_keys (client, jwks) VALUES (?, ?)`, c.Name, c.JWKS).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`INSERT INTO policy_clients (name, system, roles, domains, token_hash, created, expires, revoked)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Name, c.System, list(c.Roles), list(c.Domains), c.TokenHash,
			micro(c.Created), micro(c.Expires), micro(c.Revoked)).Error
	})
	if uniqueViolation(err) {
		return policy.Errorf(policy.ErrExists, "client %s or one of its domains was registered at the same moment", c.Name)
	}
	return err
}

// claim makes client the owner of domains, refusing one another owns.
func claim(tx *gorm.DB, client string, domains []string) error {
	if len(domains) == 0 {
		return nil
	}
	owned, err := owners(tx)
	if err != nil {
		return err
	}
	for _, d := range domains {
		if owner := owned[d]; owner != "" {
			return policy.Errorf(policy.ErrExists, "identifier domain %s is owned by client %s", d, owner)
		}
		if err := tx.Exec(`INSERT INTO policy_domains (system, client) VALUES (?, ?)`, d, client).Error; err != nil {
			return err
		}
	}
	return nil
}

// SetClientToken replaces an active client's token hash and expiry.
func (s *Store) SetClientToken(ctx context.Context, name, tokenHash string, expires time.Time) error {
	return s.change(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE policy_clients SET token_hash = ?, expires = ? WHERE name = ? AND revoked = 0`,
			tokenHash, micro(expires), name)
		if res.Error == nil && res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrNotFound, "no active client %s", name)
		}
		return res.Error
	})
}

// RevokeClient revokes an active client, drops its access tokens and
// releases its domains.
func (s *Store) RevokeClient(ctx context.Context, name string, at time.Time) error {
	return s.change(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE policy_clients SET revoked = ? WHERE name = ? AND revoked = 0`, at.UnixMicro(), name)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrNotFound, "no active client %s", name)
		}
		if err := tx.Exec(`DELETE FROM policy_access_tokens WHERE client = ?`, name).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM policy_domains WHERE client = ?`, name).Error
	})
}
