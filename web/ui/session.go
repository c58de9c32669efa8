package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/web"
)

// Cookies of the admin UI. All are HttpOnly and SameSite=Lax, Secure over
// https.
const (
	sessionCookie = "idem_session" // the session id from Auth.Login
	loginCookie   = "idem_login"   // the login form's CSRF token (double submit: there is no session yet)
	flashCookie   = "idem_flash"   // a message for the page after a redirect
)

// Locals of a UI request once its session is resolved.
const (
	localUser = "ui.user"
	localCSRF = "ui.csrf"
)

// view is what every page shows besides its own content: the signed-in
// user, the CSRF token for its forms, the active navigation entry and a
// flash message from the action before the redirect.
type view struct {
	Title string
	Nav   string
	User  *registry.Actor
	Admin bool
	CSRF  string
	Flash *flash
	// Loading says what the server is still doing before it is ready
	// (the demo network loading in the background), or "".
	Loading string
	// Refresh, when set, reloads the page after that many seconds (a
	// job's live progress, without JavaScript).
	Refresh int
}

// flash is a message carried over a redirect; Op names a decision the
// message offers to undo.
type flash struct {
	Kind string // "ok" or "error"
	Msg  string
	Op   int64
	Back string // where the undo returns to
}

func (s *Server) baseView(c *fiber.Ctx, title, nav string) view {
	v := view{Title: title, Nav: nav, Loading: s.host.Loading()}
	if p, ok := c.Locals(localUser).(registry.Actor); ok {
		v.User = &p
		v.Admin = p.HasRole("admin")
		v.CSRF, _ = c.Locals(localCSRF).(string)
	}
	if raw := c.Cookies(flashCookie); raw != "" {
		var f flash
		if b, err := base64.RawURLEncoding.DecodeString(raw); err == nil && json.Unmarshal(b, &f) == nil && f.Msg != "" {
			v.Flash = &f
		}
		s.clearCookie(c, flashCookie)
	}
	return v
}

// setFlash keeps a message for the next page.
func (s *Server) setFlash(c *fiber.Ctx, f flash) {
	b, _ := json.Marshal(f)
	s.setCookie(c, flashCookie, base64.RawURLEncoding.EncodeToString(b))
}

func (s *Server) setCookie(c *fiber.Ctx, name, value string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: c.Protocol() == "https", Expires: time.Unix(1, 0), MaxAge: -1})
}

// redirect is the "redirect" of post/redirect/get (303: the browser GETs).
func redirect(c *fiber.Ctx, to string) error {
	return c.Redirect(to, fiber.StatusSeeOther)
}

// localPath returns p if it is a path on this site, else "/": redirect
// targets taken from forms and query strings must not lead elsewhere. The
// target is parsed, not matched: it must be a path starting with a single
// "/", with no scheme, no host, and neither as given nor decoded a
// backslash or control character (browsers drop tabs and newlines and read
// "\" as "/", so "/\t/evil.example" would be "//evil.example").
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return "/"
	}
	for _, t := range []string{p, decoded, u.Path} {
		if !strings.HasPrefix(t, "/") || strings.HasPrefix(t, "//") || strings.IndexFunc(t, unsafeInURL) >= 0 {
			return "/"
		}
	}
	return p
}

// unsafeInURL reports the characters a redirect target must not hold: a
// backslash, control characters and invisible formatting characters.
func unsafeInURL(r rune) bool {
	return r == '\\' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// csrfToken returns the CSRF token a POST carries: the form body's csrf
// field, or the X-CSRF-Token header. Never the query string: a token in a
// URL leaks through logs, history and Referer headers.
func csrfToken(c *fiber.Ctx) string {
	if t := postValue(c, "csrf"); t != "" {
		return t
	}
	return c.Get("X-CSRF-Token")
}

// postValue returns a field of a url-encoded form body only (fiber's
// FormValue would also take it from the query string).
func postValue(c *fiber.Ctx, key string) string {
	return string(c.Request().PostArgs().Peek(key))
}

// sameToken compares two secrets in constant time; an empty one never matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// session requires a steward or admin session: without one a page
// redirects to the login form. It names the user as the agent of the
// request, and a POST must carry the session's CSRF token.
func (s *Server) session(c *fiber.Ctx) error {
	id := c.Cookies(sessionCookie)
	if id == "" {
		return s.toLogin(c)
	}
	pr, csrf, err := s.auth.Session(c.UserContext(), id)
	if err != nil {
		if registry.ErrorCode(web.AsError(err)) == registry.EInternal {
			return err
		}
		s.clearCookie(c, sessionCookie)
		return s.toLogin(c)
	}
	p := web.Authenticated(pr)
	if !p.HasRole("steward") && !p.HasRole("admin") {
		return registry.Errorf(registry.EForbidden, "user %s has neither the steward nor the admin role", p.Name)
	}
	c.Locals(localUser, p)
	c.Locals(localCSRF, csrf)
	c.SetUserContext(registry.WithActor(c.UserContext(), p))
	if err := s.host.LoadBody(c, s.host.MaxBody()); err != nil {
		return err
	}
	if c.Method() == fiber.MethodPost && !sameToken(csrfToken(c), csrf) {
		return registry.Errorf(registry.EForbidden, "the form's CSRF token is missing or out of date: reload the page and try again")
	}
	return c.Next()
}

// toLogin sends a visitor without a session to the login form, to return
// to the page asked for (a GET) afterwards.
func (s *Server) toLogin(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return redirect(c, "/login")
	}
	return redirect(c, "/login?next="+urlEscape(c.OriginalURL()))
}

// adminOnly requires the admin role.
func (s *Server) adminOnly(c *fiber.Ctx) error {
	if p, _ := c.Locals(localUser).(registry.Actor); !p.HasRole("admin") {
		return registry.Errorf(registry.EForbidden, "this page is for admins: user %s is not one", p.Name)
	}
	return c.Next()
}

// user returns the signed-in user of a request past session.
func user(c *fiber.Ctx) registry.Actor {
	p, _ := c.Locals(localUser).(registry.Actor)
	return p
}

// mayDo refuses with 403 when the policy does not let the user do action
// on typ (a steward may link and merge; the policy can take that away).
func (s *Server) mayDo(c *fiber.Ctx, action, typ string) error {
	p := user(c)
	if d := s.auth.Decide(p, action, typ, nil); !d.Allowed {
		return web.Deny(p, d)
	}
	return nil
}

type loginPage struct {
	view
	Next  string
	Name  string
	Token string
	Error string
}

func (s *Server) handleLoginForm(c *fiber.Ctx) error {
	if id := c.Cookies(sessionCookie); id != "" {
		if _, _, err := s.auth.Session(c.UserContext(), id); err == nil {
			return redirect(c, localPath(c.Query("next")))
		}
	}
	return s.showLogin(c, fiber.StatusOK, "", "")
}

// showLogin renders the login form with a fresh CSRF token in a cookie
// and in the form.
func (s *Server) showLogin(c *fiber.Ctx, status int, name, msg string) error {
	token := randomToken()
	s.setCookie(c, loginCookie, token)
	next := localPath(c.Query("next", c.FormValue("next")))
	return s.render(c, status, "login", loginPage{view: s.baseView(c, "Sign in", ""), Next: next, Name: name, Token: token, Error: msg})
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	if err := s.host.LoadBody(c, web.CredentialBody); err != nil {
		return err
	}
	if !sameToken(csrfToken(c), c.Cookies(loginCookie)) {
		return s.showLogin(c, fiber.StatusForbidden, "", "The sign-in form expired: please try again.")
	}
	name := strings.TrimSpace(postValue(c, "user"))
	account, agent := "user:"+name, registry.Actor{Name: name, Kind: "user"}
	if wait, err := s.host.Throttled(c, account, agent); err != nil || wait > 0 {
		if err != nil {
			return err
		}
		return s.showLogin(c, fiber.StatusTooManyRequests, name, "Too many failed sign-ins: try again in "+web.WaitText(wait)+".")
	}
	id, _, err := s.auth.Login(c.UserContext(), name, postValue(c, "password"))
	if err != nil {
		if registry.ErrorCode(web.AsError(err)) == registry.EInternal {
			return err
		}
		s.log.Info("admin UI sign-in refused", "user", web.TruncateName(name))
		s.host.SignInFailed(c, account, agent, "wrong user name or password")
		return s.showLogin(c, fiber.StatusUnauthorized, name, "Wrong user name or password.")
	}
	s.host.SignInSucceeded(c, account)
	s.host.AuditUI(c, registry.AuditRecord{Action: "E", Subtype: "login", Agent: agent})
	s.clearCookie(c, loginCookie)
	s.setCookie(c, sessionCookie, id)
	return redirect(c, localPath(postValue(c, "next")))
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := web.AsError(s.auth.Logout(c.UserContext(), c.Cookies(sessionCookie))); registry.ErrorCode(err) == registry.EInternal {
		return err
	}
	s.host.AuditUI(c, registry.AuditRecord{Action: "E", Subtype: "logout"})
	s.clearCookie(c, sessionCookie)
	return redirect(c, "/login")
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
