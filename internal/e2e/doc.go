// Package e2e holds Ignis's end-to-end tests: a whole server on loopback,
// driven over real sockets by mellium.im/xmpp, a client library Ignis did
// not write, and by raw byte transcripts for the bad-input cases.
package e2e
