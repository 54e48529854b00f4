//go:build !linux

package main

import (
	"os"

	"golang.org/x/term"
)

// readNoEcho prompts, then reads a line without echo.
func readNoEcho(f *os.File, prompt func()) (string, error) {
	prompt()
	b, err := term.ReadPassword(int(f.Fd()))
	return string(b), err
}
