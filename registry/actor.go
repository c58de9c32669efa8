package registry

import (
	"context"
	"slices"
)

// Actor is who makes a change or a request: a client system (bearer
// token), a steward (admin UI session), or idem itself and its commands
// (Kind "system"). It is set once, when the request is authenticated (or
// a command starts), and travels in the context to the policy's decisions,
// link history and audit. policy.Principal is an alias of this struct's
// shape (policy imports nothing of the project), so an Actor is handed to
// the policy as it is: keep the two field lists equal.
type Actor struct {
	Kind    string   // "client", "user", or "system"
	Name    string   // client or user name; the command for a system actor
	System  string   // a client's system URI (its records' meta.source base)
	Roles   []string // source, reader, steward, admin
	Domains []string // identifier systems a client owns
}

// HasRole reports whether a has role r.
func (a Actor) HasRole(r string) bool { return slices.Contains(a.Roles, r) }

// SystemActor is idem itself, or one of its commands (name), acting with
// the operator's access to the database.
func SystemActor(name string) Actor { return Actor{Name: name, Kind: "system"} }

type actorKey struct{}

// WithActor returns ctx naming who acts.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorIn returns the actor ctx names, if one was named.
func ActorIn(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Name != ""
}

// ActorFrom returns who acts in ctx; idem itself ("system") when nobody
// was named.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ActorIn(ctx); ok {
		return a
	}
	return SystemActor("system")
}
