package web

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/fhir"
)

// Exchange is what the web layer needs of idem's exchange with other
// servers (package exchange, wired by app): Subscriptions, the endpoint
// registry and pulls. Each method reads the actor from ctx and enforces
// who may do what.
type Exchange interface {
	CreateSubscription(ctx context.Context, res map[string]any, mayRead func(typ string) bool) (map[string]any, error)
	UpdateSubscription(ctx context.Context, id string, res map[string]any, mayRead func(typ string) bool) (map[string]any, error)
	ReadSubscription(ctx context.Context, id string) (map[string]any, error)
	ListSubscriptions(ctx context.Context, limit int) ([]map[string]any, error)
	DeleteSubscription(ctx context.Context, id string) error
	Status(ctx context.Context, id string) (map[string]any, error)
	Events(ctx context.Context, id string, since, until int64, content string) (map[string]any, error)
	// Deliveries lists every subscription's delivery state (admins).
	Deliveries(ctx context.Context) ([]map[string]any, error)
	// Resend sends subscription id's events again from event number from.
	Resend(ctx context.Context, id string, from int64) error
	// Topics lists the canonical URLs of the topics offered.
	TopicURLs() []string
	EndpointService
	ExchangeAdmin
}

// ExchangeAdmin is what the admin UI's exchange pages (web/ui) read and do.
type ExchangeAdmin interface {
	SubscriptionStates(ctx context.Context) ([]registry.SubscriptionState, error)
	SubscriptionDetail(ctx context.Context, id string, limit int) (registry.SubscriptionState, []registry.SubscriptionEvent, error)
	Peers(ctx context.Context) ([]registry.PeerState, error)
	PeerDetail(ctx context.Context, id string, limit int) (registry.PeerState, []registry.PullRun, error)
	// SyncSoon asks for a pull from Endpoint id at once.
	SyncSoon(ctx context.Context, id string) error
}

// subscriptionRoutes registers the Subscription interactions and
// operations (before /:type, which would take them for a resource type).
func (s *Server) subscriptionRoutes(f fiber.Router) {
	if s.cfg.Exchange == nil {
		return
	}
	f.Post("/Subscription", s.handleSubscriptionCreate)
	f.Get("/Subscription", s.handleSubscriptionList)
	f.Get("/Subscription/:id/$status", s.handleSubscriptionStatus)
	f.Get("/Subscription/:id/$events", s.handleSubscriptionEvents)
	f.Post("/Subscription/:id/$events", s.handleSubscriptionEvents)
	f.Get("/Subscription/:id", s.handleSubscriptionRead)
	f.Put("/Subscription/:id", s.handleSubscriptionUpdate)
	f.Delete("/Subscription/:id", s.handleSubscriptionDelete)
	s.endpointRoutes(f)
}

// mayRead is the policy's answer to "may the actor read records of typ".
func (s *Server) mayRead(ctx context.Context) func(string) bool {
	return func(typ string) bool {
		return s.auth == nil || s.auth.Decide(registry.ActorFrom(ctx), "read", typ, nil).Allowed
	}
}

func (s *Server) subscriptionBody(c *fiber.Ctx) (map[string]any, error) {
	if len(c.Body()) == 0 {
		return nil, registry.Invalid(registry.EInvalid, "required", "Subscription", "the request has no body: send a Subscription as application/fhir+json")
	}
	return fhir.DecodeJSON(c.Body())
}

func (s *Server) handleSubscriptionCreate(c *fiber.Ctx) error {
	res, err := s.subscriptionBody(c)
	if err != nil {
		return err
	}
	out, err := s.cfg.Exchange.CreateSubscription(c.UserContext(), res, s.mayRead(c.UserContext()))
	if err != nil {
		return err
	}
	c.Location(s.base(c) + "/Subscription/" + out["id"].(string))
	return s.sendJSON(c, fiber.StatusCreated, out)
}

func (s *Server) handleSubscriptionUpdate(c *fiber.Ctx) error {
	res, err := s.subscriptionBody(c)
	if err != nil {
		return err
	}
	id := c.Params("id")
	if rid, _ := res["id"].(string); rid != id {
		return registry.Invalid(registry.EInvalid, "invalid", "Subscription.id", "the body's id %q is not the id in the URL", rid)
	}
	out, err := s.cfg.Exchange.UpdateSubscription(c.UserContext(), id, res, s.mayRead(c.UserContext()))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, out)
}

func (s *Server) handleSubscriptionRead(c *fiber.Ctx) error {
	out, err := s.cfg.Exchange.ReadSubscription(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, out)
}

func (s *Server) handleSubscriptionDelete(c *fiber.Ctx) error {
	if err := s.cfg.Exchange.DeleteSubscription(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleSubscriptionList(c *fiber.Ctx) error {
	subs, err := s.cfg.Exchange.ListSubscriptions(c.UserContext(), 500)
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, searchset(s.base(c), subs))
}

func (s *Server) handleSubscriptionStatus(c *fiber.Ctx) error {
	out, err := s.cfg.Exchange.Status(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, out)
}

func (s *Server) handleSubscriptionEvents(c *fiber.Ctx) error {
	since, err1 := eventNumber(c.Query("eventsSinceNumber"), "eventsSinceNumber")
	until, err2 := eventNumber(c.Query("eventsUntilNumber"), "eventsUntilNumber")
	if err1 != nil || err2 != nil {
		return firstErr(err1, err2)
	}
	out, err := s.cfg.Exchange.Events(c.UserContext(), c.Params("id"), since, until, c.Query("content"))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, out)
}

func eventNumber(v, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, registry.Invalid(registry.EInvalid, "invalid", name, "%s must be a non-negative event number", name)
	}
	return n, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// searchset wraps resources in a searchset Bundle.
func searchset(base string, rs []map[string]any) map[string]any {
	b := newBundle("searchset")
	entries := make([]any, 0, len(rs))
	for _, r := range rs {
		entries = append(entries, map[string]any{"fullUrl": base + "/" + r["resourceType"].(string) + "/" + r["id"].(string),
			"resource": r, "search": map[string]any{"mode": "match"}})
	}
	b["total"] = len(rs)
	b["entry"] = entries
	return b
}

// exchangeCapabilities are the CapabilityStatement entries of
// Subscription (with each topic in the backport IG's
// capabilitystatement-subscriptiontopic-canonical extension), Endpoint and
// Organization; none without an Exchange.
func (s *Server) exchangeCapabilities() []any {
	if s.cfg.Exchange == nil {
		return nil
	}
	var exts []any
	for _, t := range s.cfg.Exchange.TopicURLs() {
		exts = append(exts, map[string]any{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical", "valueCanonical": t})
	}
	crud := []any{code("read"), code("search-type"), code("create"), code("update"), code("delete")}
	sub := map[string]any{"type": "Subscription", "extension": exts, "interaction": crud,
		"supportedProfile": []any{"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"},
		"operation": []any{
			map[string]any{"name": "status", "definition": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"},
			map[string]any{"name": "events", "definition": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events"},
		}}
	param := func(name, typ string) any { return map[string]any{"name": name, "type": typ} }
	endpoint := map[string]any{"type": "Endpoint", "interaction": crud, "searchParam": []any{param("name", "string"),
		param("status", "token"), param("connection-type", "token"), param("organization", "reference")},
		"operation": []any{map[string]any{"name": "sync", "definition": "http://idem.dev/fhir/OperationDefinition/Endpoint-sync"}}}
	org := map[string]any{"type": "Organization", "interaction": crud, "searchParam": []any{param("name", "string")}}
	return []any{sub, endpoint, org}
}
