package policy

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// sessionMaxAge bounds a session however active it is.
const sessionMaxAge = 7 * 24 * time.Hour

// touchEvery limits how often a used session's expiry is pushed forward (a
// write), so a page with many requests costs one write at most per minute.
const touchEvery = time.Minute

// Login checks a user's password and starts a session. It returns the
// session id (for a cookie; stored only as a hash) and the session's CSRF
// token. An unknown user and a wrong password both give ErrUnauthenticated,
// after the same amount of work.
func (a *Authorizer) Login(ctx context.Context, name, password string) (session, csrf string, err error) {
	var rows []struct{ Password string }
	if err := a.db.Read().WithContext(ctx).Raw(`SELECT password FROM policy_users WHERE name = ?`, name).Scan(&rows).Error; err != nil {
		return "", "", err
	}
	stored := dummyHash()
	if len(rows) == 1 {
		stored = rows[0].Password
	}
	ok, err := checkPassword(stored, password)
	if err != nil {
		return "", "", fmt.Errorf("user %s: %w", name, err)
	}
	if !ok || len(rows) != 1 {
		return "", "", ErrUnauthenticated
	}
	session, csrf = randomString(32), randomString(32)
	now := a.now()
	err = a.db.Write(ctx, func(tx *gorm.DB) error {
		// Expired sessions are swept here: logins are rare, sessions few.
		if err := tx.Exec(`DELETE FROM policy_sessions WHERE expires <= ?`, now.UnixMicro()).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO policy_sessions (id_hash, username, csrf, created, expires) VALUES (?, ?, ?, ?, ?)`,
			hashSecret(session), name, csrf, now.UnixMicro(), now.Add(a.sessionTTL()).UnixMicro()).Error
	})
	if err != nil {
		return "", "", err
	}
	return session, csrf, nil
}

func (a *Authorizer) sessionTTL() time.Duration {
	return orDefault(a.cfg.SessionTTL, defaultSessionTTL)
}

// Session returns the user a session id belongs to and the session's CSRF
// token, or ErrUnauthenticated if it is unknown or expired. Each use pushes
// the expiry forward (sliding), up to a week after login.
func (a *Authorizer) Session(ctx context.Context, id string) (Principal, string, error) {
	if id == "" {
		return Principal{}, "", ErrUnauthenticated
	}
	if err := a.refresh(ctx); err != nil { // rules and roles as committed anywhere
		return Principal{}, "", err
	}
	h := hashSecret(id)
	var rows []struct {
		Username, Csrf, Roles string
		Created, Expires      int64
	}
	err := a.db.Read().WithContext(ctx).Raw(`SELECT s.username, s.csrf, u.roles, s.created, s.expires
		FROM policy_sessions s JOIN policy_users u ON u.name = s.username WHERE s.id_hash = ?`, h).Scan(&rows).Error
	if err != nil {
		return Principal{}, "", err
	}
	now := a.now()
	if len(rows) == 0 || now.UnixMicro() >= rows[0].Expires {
		return Principal{}, "", ErrUnauthenticated
	}
	r := rows[0]
	next := earlier(now.Add(a.sessionTTL()), fromMicro(r.Created).Add(sessionMaxAge))
	if next.Sub(fromMicro(r.Expires)) >= touchEvery {
		err := a.db.Write(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`UPDATE policy_sessions SET expires = ? WHERE id_hash = ?`, next.UnixMicro(), h).Error
		})
		if err != nil {
			return Principal{}, "", err
		}
	}
	return Principal{Kind: KindUser, Name: r.Username, Roles: unlist(r.Roles)}, r.Csrf, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Logout ends a session. Ending an unknown session is not an error.
func (a *Authorizer) Logout(ctx context.Context, id string) error {
	return a.db.Write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM policy_sessions WHERE id_hash = ?`, hashSecret(id)).Error
	})
}
