// Command idem is a FHIR R4 master data registry. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"idem/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
