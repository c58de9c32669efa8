package policystore

import (
	"context"

	"gorm.io/gorm"

	"idem/policy"
)

// AddGrant records an assertion id and the access token issued for it.
func (s *Store) AddGrant(ctx context.Context, g policy.Grant) error {
	now := g.Created.UnixMicro()
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM policy_assertions WHERE client = ? AND expires < ?`, g.Client, now).Error; err != nil {
			return err
		}
		// ON CONFLICT DO NOTHING rather than a unique-key error: a PostgreSQL
		// transaction survives it, and a concurrent insert of the same jti on
		// another instance waits for this one and then inserts nothing.
		res := tx.Exec(`INSERT INTO policy_assertions (client, jti, expires) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			g.Client, g.JTI, g.JTIExpires.UnixMicro())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrExists, "client %s used assertion id %q before", g.Client, g.JTI)
		}
		if err := tx.Exec(`DELETE FROM policy_access_tokens WHERE client = ? AND expires <= ?`, g.Client, now).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO policy_access_tokens (token_hash, client, scope, created, expires) VALUES (?, ?, ?, ?, ?)`,
			g.TokenHash, g.Client, g.Scope, now, g.Expires.UnixMicro()).Error
	})
}

// AccessToken returns the grant of an access token (without its assertion).
func (s *Store) AccessToken(ctx context.Context, tokenHash string) (policy.Grant, error) {
	var rows []struct {
		Client, Scope    string
		Created, Expires int64
	}
	err := s.read(ctx).Raw(`SELECT client, scope, created, expires FROM policy_access_tokens WHERE token_hash = ?`, tokenHash).
		Scan(&rows).Error
	if err != nil {
		return policy.Grant{}, err
	}
	if len(rows) == 0 {
		return policy.Grant{}, policy.Errorf(policy.ErrNotFound, "no such access token")
	}
	r := rows[0]
	return policy.Grant{Client: r.Client, TokenHash: tokenHash, Scope: r.Scope, Created: fromMicro(r.Created), Expires: fromMicro(r.Expires)}, nil
}
