package ui

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/web"
)

// The exchange pages (admins): subscriptions with their delivery state,
// newest events and a resend from an event number; peers (Endpoints) with
// their health, pull history and progress, and "sync now". Credentials
// (bearer tokens, SMART private keys, channel header values) are in none
// of the views these pages get.

// uiEventsShown and uiRunsShown bound the rows of the detail pages.
const (
	uiEventsShown = 50
	uiRunsShown   = 20
)

type subscriptionsPage struct {
	view
	Subs []registry.SubscriptionState
}

type subscriptionPage struct {
	view
	Sub    registry.SubscriptionState
	Events []registry.SubscriptionEvent
	// ResendMin is the oldest event number kept; ResendFrom the form's
	// default: the first not delivered, or the oldest kept.
	ResendMin, ResendFrom int64
}

type peersPage struct {
	view
	Peers []registry.PeerState
}

type peerPage struct {
	view
	Peer registry.PeerState
	Runs []registry.PullRun
}

// exchangeRoutes adds the exchange pages behind the admin guard.
func (s *Server) exchangeRoutes(r fiber.Router, admin func(fiber.Handler) []fiber.Handler) {
	r.Get("/admin/subscriptions", admin(s.handleSubscriptionsPage)...)
	r.Get("/admin/subscriptions/:id", admin(s.handleSubscriptionPage)...)
	r.Post("/admin/subscriptions/:id/resend", admin(s.handleUIResend)...)
	r.Get("/admin/peers", admin(s.handlePeersPage)...)
	r.Get("/admin/peers/:id", admin(s.handlePeerPage)...)
	r.Post("/admin/peers/:id/sync", admin(s.handleUISyncNow)...)
}

func (s *Server) exchangeUI() (web.Exchange, error) {
	if s.exchange == nil {
		return nil, registry.Errorf(registry.ENotFound, "exchange with linked servers is not offered by this server")
	}
	return s.exchange, nil
}

func (s *Server) handleSubscriptionsPage(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	subs, err := ex.SubscriptionStates(c.UserContext())
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "subscriptions", subscriptionsPage{view: s.baseView(c, "Subscriptions", "subscriptions"), Subs: subs})
}

func (s *Server) handleSubscriptionPage(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	sub, evs, err := ex.SubscriptionDetail(c.UserContext(), id, uiEventsShown)
	if err != nil {
		return err
	}
	p := subscriptionPage{view: s.baseView(c, "Subscription "+shortID(id), "subscriptions"), Sub: sub, Events: evs,
		ResendMin: sub.Pruned + 1, ResendFrom: min(sub.Delivered+1, sub.Events)}
	p.ResendFrom = max(p.ResendFrom, p.ResendMin)
	return s.render(c, fiber.StatusOK, "subscription", p)
}

// handleUIResend resends a subscription's events from the form's event
// number; a refusal (a number out of range or pruned) is the next page's
// flash.
func (s *Server) handleUIResend(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	back := "/admin/subscriptions/" + id
	from, perr := strconv.ParseInt(strings.TrimSpace(c.FormValue("from")), 10, 64)
	if perr != nil {
		s.setFlash(c, flash{Kind: "error", Msg: "From: give an event number."})
		return redirect(c, back)
	}
	err = ex.Resend(c.UserContext(), id, from)
	switch code := registry.ErrorCode(err); {
	case code == "":
		s.setFlash(c, flash{Kind: "ok", Msg: "Events from number " + strconv.FormatInt(from, 10) + " will be sent again."})
	case code != registry.EInternal:
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
	default:
		return err
	}
	return redirect(c, back)
}

func (s *Server) handlePeersPage(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	peers, err := ex.Peers(c.UserContext())
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "peers", peersPage{view: s.baseView(c, "Peers", "peers"), Peers: peers})
}

// handlePeerPage shows a peer; while a pull runs the page reloads itself.
func (s *Server) handlePeerPage(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	peer, runs, err := ex.PeerDetail(c.UserContext(), id, uiRunsShown)
	if err != nil {
		return err
	}
	p := peerPage{view: s.baseView(c, "Peer "+cmp.Or(peer.Name, shortID(id)), "peers"), Peer: peer, Runs: runs}
	due := peer.Status == "active" && !peer.NextPull.After(s.now())
	if peer.Pulling || due || (len(runs) > 0 && runs[0].Finished.IsZero()) {
		p.Refresh = 2
	}
	return s.render(c, fiber.StatusOK, "peer", p)
}

func (s *Server) handleUISyncNow(c *fiber.Ctx) error {
	ex, err := s.exchangeUI()
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	err = ex.SyncSoon(c.UserContext(), id)
	switch code := registry.ErrorCode(err); {
	case code == "":
		s.setFlash(c, flash{Kind: "ok", Msg: "A pull was asked for: it shows below as it runs."})
	case code != registry.EInternal:
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
	default:
		return err
	}
	return redirect(c, "/admin/peers/"+id)
}

// shortID is the first 8 characters of an id, for titles.
func shortID(id string) string { return id[:min(len(id), 8)] }
