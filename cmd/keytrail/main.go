// Command keytrail proves, for every Airflow action and DAG run, which person
// did it and which hardware security key they tapped, and hands an auditor the
// evidence. Run `keytrail help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// KEYTRAIL_CPUPROFILE=FILE writes a CPU profile of the run (go tool pprof).
	if path := os.Getenv("KEYTRAIL_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "keytrail: KEYTRAIL_CPUPROFILE:", err)
			os.Exit(2)
		}
		defer f.Close()
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	stop()
	os.Exit(code)
}
