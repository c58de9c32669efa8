package web

import (
	"context"
	"fmt"

	"idem/policy"
	"idem/registry"
)

// checkIntake applies the policy's intake for the records a client pushes:
// refused ones are a 403 naming the rule; reviewed ones wait for a steward
// (registry.ReviewError: a held write where one can be held) unless a
// steward accepted this one.
func (g *Guard) checkIntake(ctx context.Context, p registry.Actor, w *registry.Write) error {
	if p.Kind != "client" || w.Resource == nil {
		return nil
	}
	in, rule := g.auth.Intake(p.Name, w.Type)
	switch in {
	case policy.Refuse:
		return Deny(p, policy.Decision{Rule: rule, Reason: fmt.Sprintf("%s records from %s are not accepted here", w.Type, p.Name)})
	case policy.Review:
		if registry.Reviewed(ctx) == "" {
			return registry.ReviewError(p, w.Type, rule)
		}
	}
	return nil
}
