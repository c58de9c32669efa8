package policy

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
)

// User is a person who signs in to the admin UI: a steward or an admin.
type User struct {
	Name    string
	Roles   []string
	Created time.Time
}

// userRoles are the roles a user may have.
var userRoles = []string{RoleSteward, RoleAdmin}

func checkUserRoles(roles []string) error {
	if len(roles) == 0 {
		return errorf(ErrInvalid, "a user needs a role (steward or admin)")
	}
	for _, r := range roles {
		if !slices.Contains(userRoles, r) {
			return errorf(ErrInvalid, "unknown user role %q (use steward or admin)", r)
		}
	}
	return nil
}

// AddUser creates a user with a password and roles (steward, admin).
func (a *Authorizer) AddUser(ctx context.Context, name, password string, roles []string) error {
	if err := checkName("user", name); err != nil {
		return err
	}
	if err := checkUserRoles(roles); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM policy_users WHERE name = ?`, name).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return errorf(ErrExists, "user %s already exists", name)
		}
		return tx.Exec(`INSERT INTO policy_users (name, password, roles, created) VALUES (?, ?, ?, ?)`,
			name, hash, list(roles), a.now().UnixMicro()).Error
	})
}

// SetPassword replaces a user's password and ends the user's sessions.
func (a *Authorizer) SetPassword(ctx context.Context, name, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE policy_users SET password = ? WHERE name = ?`, hash, name)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errorf(ErrNotFound, "no user %s", name)
		}
		return tx.Exec(`DELETE FROM policy_sessions WHERE username = ?`, name).Error
	})
}

// RemoveUser deletes a user and ends the user's sessions.
func (a *Authorizer) RemoveUser(ctx context.Context, name string) error {
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM policy_users WHERE name = ?`, name)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errorf(ErrNotFound, "no user %s", name)
		}
		return tx.Exec(`DELETE FROM policy_sessions WHERE username = ?`, name).Error
	})
}

// Users lists the users by name.
func (a *Authorizer) Users(ctx context.Context) ([]User, error) {
	var rows []struct {
		Name, Roles string
		Created     int64
	}
	if err := a.db.Read().WithContext(ctx).Raw(`SELECT name, roles, created FROM policy_users ORDER BY name`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = User{Name: r.Name, Roles: unlist(r.Roles), Created: fromMicro(r.Created)}
	}
	return out, nil
}

// EnsureAdmin bootstraps the user "admin" when no user has the admin role:
// with password if given (IDEM_ADMIN_PASSWORD), or else with a generated
// password that it returns so the caller can show it once. When an admin
// exists it does nothing and returns "".
func (a *Authorizer) EnsureAdmin(ctx context.Context, password string) (generated string, err error) {
	users, err := a.Users(ctx)
	if err != nil {
		return "", err
	}
	for _, u := range users {
		if slices.Contains(u.Roles, RoleAdmin) {
			return "", nil
		}
	}
	if password == "" {
		password = GeneratePassword()
		generated = password
	}
	err = a.AddUser(ctx, "admin", password, []string{RoleAdmin})
	if errors.Is(err, ErrExists) {
		// A user called admin without the admin role: not ours to change.
		return "", errorf(ErrInvalid, "user admin exists but is not an admin; give someone the admin role")
	}
	if err != nil {
		return "", err
	}
	return generated, nil
}
