package registry

import "context"

// Agent is who makes a change: a client system or a steward. The web layer
// puts it in the request context once authenticated; link history and
// audit events name it.
type Agent struct {
	Name   string // client or user name
	Kind   string // "client", "user", or "system" for idem itself
	System string // a client's system URI
}

type agentKey struct{}

// WithAgent returns ctx naming the agent of the request.
func WithAgent(ctx context.Context, a Agent) context.Context {
	return context.WithValue(ctx, agentKey{}, a)
}

// AgentFrom returns the request's agent; idem itself ("system") when none
// was named.
func AgentFrom(ctx context.Context) Agent {
	if a, ok := ctx.Value(agentKey{}).(Agent); ok && a.Name != "" {
		return a
	}
	return Agent{Name: "system", Kind: "system"}
}
