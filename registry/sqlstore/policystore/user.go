package policystore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/policy"
)

// Users lists the users by name.
func (s *Store) Users(ctx context.Context) ([]policy.User, error) {
	var rows []struct {
		Name, Roles string
		Created     int64
	}
	if err := s.read(ctx).Raw(`SELECT name, roles, created FROM policy_users ORDER BY name`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]policy.User, len(rows))
	for i, r := range rows {
		out[i] = policy.User{Name: r.Name, Roles: unlist(r.Roles), Created: fromMicro(r.Created)}
	}
	return out, nil
}

// AddUser stores a new user.
func (s *Store) AddUser(ctx context.Context, u policy.User, passwordHash string) error {
	err := s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM policy_users WHERE name = ?`, u.Name).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return policy.Errorf(policy.ErrExists, "user %s already exists", u.Name)
		}
		return tx.Exec(`INSERT INTO policy_users (name, password, roles, created) VALUES (?, ?, ?, ?)`,
			u.Name, passwordHash, list(u.Roles), micro(u.Created)).Error
	})
	if uniqueViolation(err) {
		return policy.Errorf(policy.ErrExists, "user %s already exists", u.Name)
	}
	return err
}

// PasswordHash returns the named user's password hash.
func (s *Store) PasswordHash(ctx context.Context, name string) (string, error) {
	var rows []struct{ Password string }
	if err := s.read(ctx).Raw(`SELECT password FROM policy_users WHERE name = ?`, name).Scan(&rows).Error; err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", policy.Errorf(policy.ErrNotFound, "no user %s", name)
	}
	return rows[0].Password, nil
}

// SetPassword replaces a user's password hash and ends the user's sessions.
func (s *Store) SetPassword(ctx context.Context, name, passwordHash string) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE policy_users SET password = ? WHERE name = ?`, passwordHash, name)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrNotFound, "no user %s", name)
		}
		return tx.Exec(`DELETE FROM policy_sessions WHERE username = ?`, name).Error
	})
}

// RemoveUser deletes a user and the user's sessions.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM policy_users WHERE name = ?`, name)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrNotFound, "no user %s", name)
		}
		return tx.Exec(`DELETE FROM policy_sessions WHERE username = ?`, name).Error
	})
}

// AddSession stores a session, sweeping the expired ones first.
func (s *Store) AddSession(ctx context.Context, sess policy.Session) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM policy_sessions WHERE expires <= ?`, sess.Created.UnixMicro()).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO policy_sessions (id_hash, username, csrf, created, expires) VALUES (?, ?, ?, ?, ?)`,
			sess.IDHash, sess.User, sess.CSRF, sess.Created.UnixMicro(), sess.Expires.UnixMicro()).Error
	})
}

// Session returns a session with its user's roles.
func (s *Store) Session(ctx context.Context, idHash string) (policy.Session, error) {
	var rows []struct {
		Username, Csrf, Roles string
		Created, Expires      int64
	}
	err := s.read(ctx).Raw(`SELECT s.username, s.csrf, u.roles, s.created, s.expires
		FROM policy_sessions s JOIN policy_users u ON u.name = s.username WHERE s.id_hash = ?`, idHash).Scan(&rows).Error
	if err != nil {
		return policy.Session{}, err
	}
	if len(rows) == 0 {
		return policy.Session{}, policy.Errorf(policy.ErrNotFound, "no such session")
	}
	r := rows[0]
	return policy.Session{IDHash: idHash, User: r.Username, Roles: unlist(r.Roles), CSRF: r.Csrf,
		Created: fromMicro(r.Created), Expires: fromMicro(r.Expires)}, nil
}

// ExtendSession sets a session's expiry.
func (s *Store) ExtendSession(ctx context.Context, idHash string, expires time.Time) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE policy_sessions SET expires = ? WHERE id_hash = ?`, expires.UnixMicro(), idHash).Error
	})
}

// RemoveSession deletes a session.
func (s *Store) RemoveSession(ctx context.Context, idHash string) error {
	return s.db.WriteDB(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM policy_sessions WHERE id_hash = ?`, idHash).Error
	})
}
