package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	_ "idem/app/needcgo" // a build without cgo stops there, saying why
)

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
