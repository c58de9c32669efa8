package web

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Request bodies are streamed (fiber's StreamRequestBody): nothing but a
// few KiB is read before a handler asks for the body, and routes ask only
// after the caller is authenticated (readBody after authenticate, adminOnly
// and the UI session; loadBody with a small limit where the body carries
// the credentials: the sign-in form and token requests). The body is read
// through a limit, decoded (gzip, deflate) through the same limit, so
// neither a huge upload nor a compression bomb is ever held in memory.

// CredentialBody bounds the bodies read before anyone is authenticated.
const CredentialBody = 64 << 10

// lingerFor bounds how long an unread body is drained after the response,
// so the client sees the answer rather than a reset connection.
const lingerFor = 5 * time.Second

// localBodyRead marks a request whose body has been read in full.
const localBodyRead = "idem.bodyRead"

// limitBody refuses a declared body over the limit before anything is read,
// and drains (without keeping) the body a handler left unread.
func (s *Server) limitBody(c *fiber.Ctx) error {
	var err error
	if n := c.Request().Header.ContentLength(); n > s.cfg.MaxBody {
		err = registry.Errorf(registry.ETooLarge, "request body of %d bytes exceeds the limit of %d bytes", n, s.cfg.MaxBody)
	} else {
		err = c.Next()
	}
	if c.Request().BodyStream() != nil && c.Locals(localBodyRead) == nil {
		s.discardAfter(c)
	}
	return err
}

// discardAfter answers with "Connection: close", then reads and drops at
// most four times the body limit for at most lingerFor before closing: a
// client still uploading gets the answer rather than a reset, and no
// client sends its next request into a body being drained.
func (s *Server) discardAfter(c *fiber.Ctx) {
	limit := int64(4 * s.cfg.MaxBody)
	fc := c.Context()
	if _, ok := fc.Conn().(*net.TCPConn); !ok {
		fc.SetConnectionClose() // not a network connection (fiber's app.Test): nothing to linger on
		return
	}
	fc.HijackSetNoResponse(true) // written by the hijack handler, with Connection: close
	fc.Hijack(func(conn net.Conn) {
		fc.Response.SetConnectionClose()
		w := bufio.NewWriter(conn)
		if fc.Response.Write(w) != nil || w.Flush() != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.CopyN(io.Discard, conn, limit)
	})
}

// readBody reads the request body (for the routes after authentication).
func (s *Server) readBody(c *fiber.Ctx) error {
	if err := s.LoadBody(c, s.cfg.MaxBody); err != nil {
		return err
	}
	return c.Next()
}

// LoadBody reads the request body, at most limit bytes as sent and as
// decoded, so that c.Body() and the form functions see it: 413 above the
// limit, 415 for a Content-Encoding other than gzip or deflate.
func (s *Server) LoadBody(c *fiber.Ctx, limit int) error {
	req := c.Request()
	stream := req.BodyStream()
	if stream == nil || c.Locals(localBodyRead) != nil {
		return nil // no body, or read already
	}
	raw := &io.LimitedReader{R: stream, N: int64(limit) + 1}
	r, err := decoder(c.Get(fiber.HeaderContentEncoding), raw)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err == nil && r != io.Reader(raw) {
		_, err = io.Copy(io.Discard, raw) // what follows a compressed stream
	}
	switch {
	case len(data) > limit || raw.N <= 0:
		return registry.Errorf(registry.ETooLarge, "request body exceeds the limit of %d bytes", limit)
	case err != nil:
		return registry.Errorf(registry.EInvalid, "the request body could not be read: %v", err)
	}
	c.Locals(localBodyRead, true)
	req.Header.Del(fiber.HeaderContentEncoding)
	req.SetBodyRaw(data)
	return nil
}

// decoder returns a reader of the decoded body for a Content-Encoding.
func decoder(encoding string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return r, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, registry.Errorf(registry.EInvalid, "the gzip request body is malformed: %v", err)
		}
		return zr, nil
	case "deflate": // RFC 9110: the zlib format
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, registry.Errorf(registry.EInvalid, "the deflate request body is malformed: %v", err)
		}
		return zr, nil
	}
	return nil, registry.Errorf(registry.EUnsupported, "Content-Encoding %q is not supported: send the body as is, gzip or deflate", encoding)
}

// hasBody reports whether a request comes with a body (a length, or chunked).
func hasBody(c *fiber.Ctx) bool {
	n := c.Request().Header.ContentLength()
	return n > 0 || n == -1
}

// MaxBody is the request body limit in bytes (Config.MaxBody).
func (s *Server) MaxBody() int { return s.cfg.MaxBody }
