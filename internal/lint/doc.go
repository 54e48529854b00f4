// Package lint holds tests that keep Ignis's architecture: imports go one
// way (reactor → session → route → mod → store), feature packages never
// import one another, and a few imports are banned outside tests.
package lint
