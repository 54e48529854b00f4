// Command ignis is the Ignis XMPP server and its administration tool.
//
//	ignis serve [--config FILE] [--data DIR] [--domain NAME] [--c2s ADDR] [--c2s-tls ADDR]
//	ignis user add --data DIR JID [PASSWORD]
//	ignis user del|passwd|list …
//	ignis sessions|kick|stats|announce|room …, ignis token …, ignis version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"ignis/internal/server"
	"ignis/mod/version"
)

const usage = `usage:
  ignis serve [--config FILE] [--data DIR] [--domain NAME] [--c2s ADDR] [--c2s-tls ADDR] [--log-level L] [--log-format text|json] [--cpuprofile FILE] [--memprofile FILE]
  ignis user add    --data DIR JID [PASSWORD]   (no PASSWORD: asked twice on a terminal, else one line of standard input)
  ignis user add    --data DIR --bulk N --users PATTERN --password PW   (PATTERN like user%d, numbered from 1)
  ignis user passwd --data DIR JID [PASSWORD]
  ignis user del    --data DIR JID
  ignis user list   --data DIR
  ignis group add   --data DIR NAME [--display D]   (a shared roster group: members see each other)
  ignis group del   --data DIR NAME
  ignis group member add|del --data DIR NAME JID
  ignis group list  --data DIR
  ignis sessions    --data DIR        (the running server's client sessions)
  ignis kick        --data DIR JID    (end a full JID's session, or every session of a bare JID)
  ignis stats       --data DIR [--json]   (the running server's headline figures)
  ignis announce    --data DIR MESSAGE    (a headline message to every online session)
  ignis room list|info|destroy --data DIR [ROOM] [--reason TEXT]   (the running server's group chat rooms)
  ignis token create --data DIR NAME      (a bearer token for the admin REST API; printed once)
  ignis token list|del --data DIR [NAME]
  ignis bench --addr HOST:PORT --domain NAME --scenario idle|login|chat|presence|muc|s2s|mix --sessions N [--help for all options]
  ignis version
Every command takes --help.
`

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString(usage)
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:], os.Stdin, os.Stdout); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "ignis: %v\n%s", err, usage)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "ignis:", err)
		os.Exit(1)
	}
}

// usageError is a command line that names no command.
type usageError string

func (e usageError) Error() string { return string(e) }

func run(cmd string, args []string, stdin io.Reader, stdout io.Writer) error {
	switch cmd {
	case "serve":
		return serve(args, stdout)
	case "user":
		return user(args, stdin, stdout)
	case "group":
		return group(args, stdout)
	case "sessions":
		return sessions(args, stdout)
	case "kick":
		return kick(args, stdout)
	case "stats":
		return stats(args, stdout)
	case "announce":
		return announce(args, stdout)
	case "room":
		return room(args, stdout)
	case "token":
		return token(args, stdout)
	case "bench":
		return runBench(args)
	case "version":
		if len(args) > 0 && !isHelp(args[0]) {
			return fmt.Errorf("version: unexpected argument %q", args[0])
		}
		if len(args) > 0 {
			fmt.Fprintln(stdout, "usage: ignis version   (prints this build's version, as XMPP clients see it by XEP-0092)")
			return nil
		}
		fmt.Fprintf(stdout, "%s %s (%s, %s/%s)\n", version.Name, version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "help", "-h", "-help", "--help":
		io.WriteString(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

func serve(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)

	configFile := fs.String("config", "", "TOML configuration `file`")
	fs.String("data", "", "data `folder` (default ./data)")
	fs.String("domain", "", "the server's `domain` (default localhost)")
	fs.String("c2s", "", "client listener `host:port` with STARTTLS (default :5222; \"off\" disables)")
	fs.String("c2s-tls", "", "direct TLS client listener `host:port` (default :5223; \"off\" disables)")
	fs.String("log-level", "", "debug, info, warn or error (default info)")
	fs.String("log-format", "", "text (key=value) or json (default text)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to `file`, closed at shutdown")
	memProfile := fs.String("memprofile", "", "write a heap profile (pprof: allocations of the whole run, and what is live) to `file` at shutdown, and to `file`.N on each SIGUSR1 (after a GC: what a running server holds)")
	memProfileRate := fs.Int("memprofilerate", 0, "with --memprofile: record one allocation per `bytes` allocated (1: every one, exact but slow; 0: the runtime's 512 KiB)")
	if help, err := parseFlags(fs, args, false, stdout, "usage: ignis serve [options]   (runs the server until SIGINT or SIGTERM)\n"); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		if *memProfileRate > 0 {
			runtime.MemProfileRate = *memProfileRate
		}
		defer func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				slog.Error("memprofile", "err", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				slog.Error("memprofile", "err", err)
			}
		}()
	}
	cfg := server.DefaultConfig()
	if *configFile != "" {
		var err error
		if cfg, err = server.LoadConfig(*configFile); err != nil {
			return err
		}
	}
	// flags given on the command line win over the file
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "data":
			cfg.Data = v
		case "domain":
			cfg.Domain = v
		case "c2s":
			cfg.Listen.C2S = v
		case "c2s-tls":
			cfg.Listen.C2STLS = v
		case "log-level":
			cfg.LogLevel = v
		case "log-format":
			cfg.LogFormat = v
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := slog.New(cfg.NewLogHandler(os.Stderr))
	slog.SetDefault(log)

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	// before Start: a SIGTERM right after "ignis started" must stop cleanly
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *memProfile != "" {
		// registered before the startup line: the signal's default action ends the process
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		defer signal.Stop(sig)
		go heapOnSignal(ctx, sig, *memProfile, log)
	}
	if err := srv.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Stop(sctx)
}

// heapOnSignal writes a heap profile to path.N on each SIGUSR1, after a
// GC so that inuse_space is what the running server holds; the profile
// at shutdown shows the shutdown's own work, not the settled state.
func heapOnSignal(ctx context.Context, sig <-chan os.Signal, path string, log *slog.Logger) {
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		name := fmt.Sprintf("%s.%d", path, n)
		runtime.GC()
		f, err := os.Create(name)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			log.Error("memprofile", "file", name, "err", err)
			continue
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		log.Info("memprofile written", "file", name, "heap_alloc", ms.HeapAlloc, "heap_inuse", ms.HeapInuse, "heap_idle", ms.HeapIdle, "heap_released", ms.HeapReleased, "stack_inuse", ms.StackInuse, "sys", ms.Sys)
	}
}
