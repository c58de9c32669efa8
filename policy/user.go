package policy

import (
	"context"
	"errors"
	"slices"
	"time"
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
	return a.store.AddUser(ctx, User{Name: name, Roles: roles, Created: a.now()}, hash)
}

// SetPassword replaces a user's password and ends the user's sessions.
func (a *Authorizer) SetPassword(ctx context.Context, name, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return a.store.SetPassword(ctx, name, hash)
}

// RemoveUser deletes a user and ends the user's sessions.
func (a *Authorizer) RemoveUser(ctx context.Context, name string) error {
	return a.store.RemoveUser(ctx, name)
}

// Users lists the users by name.
func (a *Authorizer) Users(ctx context.Context) ([]User, error) {
	return a.store.Users(ctx)
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
