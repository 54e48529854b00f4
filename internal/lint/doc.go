// Package lint holds tests that keep Ignis's architecture: imports go one
// way (reactor → session → route → mod → store), feature packages never
// import one another, a few imports are banned outside tests, and features
// log through their mod.Handle.
package lint
