package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readPassword gets a new password from stdin. On a terminal it asks twice
// without echo; from a pipe it reads one line, so scripts can feed it.
func readPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(what string) (string, error) {
			pw, err := readNoEcho(f, func() { fmt.Fprint(prompt, what) })
			fmt.Fprintln(prompt)
			return pw, err
		}
		pw, err := ask("new password: ")
		if err != nil {
			return "", err
		}
		again, err := ask("again: ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", errors.New("the two passwords differ")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
