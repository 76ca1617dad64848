// Command keytrail proves, for every Airflow action and DAG run, which person
// did it and which hardware security key they tapped, and hands an auditor the
// evidence. Run `keytrail help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
