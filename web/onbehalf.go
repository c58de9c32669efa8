package web

import (
	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// onBehalfKey holds, in a request's locals, whom a registered peer says it
// asks for (registry.HeaderOnBehalfOf).
const onBehalfKey = "idem-on-behalf-of"

// noteOnBehalf believes a request's HeaderOnBehalfOf only from a client
// that is a registered peer, and keeps it for the audit trail; the peer's
// own permissions (its client's) decide what it is given.
func (s *Server) noteOnBehalf(c *fiber.Ctx, p registry.Actor) {
	who := c.Get(registry.HeaderOnBehalfOf)
	if who == "" || p.Kind != "client" || s.cfg.Federation == nil || len(who) > 200 {
		return
	}
	if s.cfg.Federation.IsPeerClient(c.UserContext(), p.Name) {
		c.Locals(onBehalfKey, who)
	}
}

// onBehalfOf returns whom the request is made for, as a peer said.
func onBehalfOf(c *fiber.Ctx) string {
	who, _ := c.Locals(onBehalfKey).(string)
	return who
}
