package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"ignis/bench"
)

// runBench is `ignis bench`: the load generator (package bench). Interrupt
// ends the run early; it still reports what happened.
func runBench(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return bench.Command(ctx, args, []string{exe, "bench"}, os.Stdin, os.Stdout, os.Stderr)
}
