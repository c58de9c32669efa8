package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"idem/registry/sqlstore"
)

// needCgo refuses a SQLite database in a binary built without cgo with a
// message saying how to fix the build, rather than the driver's stub error
// on the first query.
func needCgo(cgo bool, dsn string) error {
	if cgo || sqlstore.IsPostgres(dsn) {
		return nil
	}
	return fmt.Errorf("this idem was built without cgo (CGO_ENABLED=0, or no C compiler was found), " +
		"but the SQLite driver (gorm.io/driver/sqlite over github.com/mattn/go-sqlite3) needs it: " +
		"install a C compiler (Debian: apt-get install gcc; macOS: xcode-select --install) and build again with CGO_ENABLED=1, " +
		"or use PostgreSQL (IDEM_DB=postgres://…)")
}

// healthcheckCommand is "idem healthcheck": it asks the server listening on
// IDEM_ADDR for /healthz and fails unless it answers 200 (the container's
// HEALTHCHECK: the image has no curl).
func healthcheckCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var url string
	err := newFlags("healthcheck", "", &cfg, stderr, func(fs *flag.FlagSet, cfg *Config) {
		fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the server's listen address (IDEM_ADDR)")
	}, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "url", "", "the URL to check (default: /healthz on --addr)")
	}).Parse(args)
	if err != nil {
		return err
	}
	if url == "" {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("--addr %q: %w", cfg.Addr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		url = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
