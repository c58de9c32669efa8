package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// exchangeAdminRoutes serve the delivery state of every subscription and
// resending its events (admins; under /admin/api).
func (s *Server) exchangeAdminRoutes(a fiber.Router) {
	if s.cfg.Exchange == nil {
		return
	}
	a.Get("/subscriptions", s.handleDeliveryList)
	a.Post("/subscriptions/:id/resend", s.handleResend)
}

func (s *Server) handleDeliveryList(c *fiber.Ctx) error {
	ds, err := s.cfg.Exchange.Deliveries(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"subscriptions": ds})
}

// handleResend resends from event number ?from= (default 1).
func (s *Server) handleResend(c *fiber.Ctx) error {
	from := int64(1)
	if v := c.Query("from"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return registry.Invalid(registry.EInvalid, "invalid", "from", "from must be an event number")
		}
		from = n
	}
	if err := s.cfg.Exchange.Resend(c.UserContext(), c.Params("id"), from); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
