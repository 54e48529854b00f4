// Package crashtest kills a real Ignis server process with SIGKILL while it
// stores offline messages, restarts it on the same data folder, and checks
// that nothing the server had acknowledged was lost. It has tests only.
package crashtest
