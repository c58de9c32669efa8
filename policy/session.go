package policy

import (
	"context"
	"errors"
	"fmt"
	"time"
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
	stored, err := a.store.PasswordHash(ctx, name)
	known := err == nil
	switch {
	case errors.Is(err, ErrNotFound):
		stored = dummyHash()
	case err != nil:
		return "", "", err
	}
	ok, err := checkPassword(stored, password)
	if err != nil {
		return "", "", fmt.Errorf("user %s: %w", name, err)
	}
	if !ok || !known {
		return "", "", ErrUnauthenticated
	}
	session, csrf = randomString(32), randomString(32)
	now := a.now()
	err = a.store.AddSession(ctx, Session{IDHash: hashSecret(session), User: name, CSRF: csrf,
		Created: now, Expires: now.Add(a.sessionTTL())})
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
	r, err := a.store.Session(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, "", ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, "", err
	}
	now := a.now()
	if !now.Before(r.Expires) {
		return Principal{}, "", ErrUnauthenticated
	}
	next := earlier(now.Add(a.sessionTTL()), r.Created.Add(sessionMaxAge))
	if next.Sub(r.Expires) >= touchEvery {
		if err := a.store.ExtendSession(ctx, h, next); err != nil {
			return Principal{}, "", err
		}
	}
	return Principal{Kind: KindUser, Name: r.User, Roles: r.Roles}, r.CSRF, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Logout ends a session. Ending an unknown session is not an error.
func (a *Authorizer) Logout(ctx context.Context, id string) error {
	return a.store.RemoveSession(ctx, hashSecret(id))
}
