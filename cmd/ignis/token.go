package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"ignis/internal/server"
)

const tokenUsage = `usage:
  ignis token create --data DIR NAME   (a bearer token for the admin REST API, printed once; its hash stays in DIR)
  ignis token list   --data DIR
  ignis token del    --data DIR NAME
`

// token runs `ignis token …`: the tokens live in a file of the data folder
// that the running server reads at each request, so no restart is needed.
func token(args []string, stdout io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		io.WriteString(stdout, tokenUsage)
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the server")
	if help, err := parseFlags(fs, args[1:], true, stdout, tokenUsage); help || err != nil {
		return err
	}
	if !hasData(*data) {
		return fmt.Errorf("token: %s holds no Ignis data (give the --data folder the server runs with)", *data)
	}
	switch sub {
	case "create":
		if fs.NArg() != 1 {
			return errors.New("token create: give one NAME")
		}
		secret, line, err := server.CreateToken(*data, fs.Arg(0))
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", secret)
		fmt.Fprintf(os.Stderr, "ignis: token %q created; send it as \"Authorization: Bearer <token>\". It is not shown again.\n"+
			"ignis: to accept it from the config instead: [console] tokens = [%q]\n", fs.Arg(0), line)
		return nil
	case "list":
		names, err := server.TokenNames(*data)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case "del":
		if fs.NArg() != 1 {
			return errors.New("token del: give one NAME")
		}
		if err := server.DeleteToken(*data, fs.Arg(0)); err != nil {
			return fmt.Errorf("token del: %w", err)
		}
		fmt.Fprintf(stdout, "token %s deleted\n", fs.Arg(0))
		return nil
	}
	return usageError(fmt.Sprintf("token: unknown subcommand %q", sub))
}
