// Package interop runs real XMPP clients from Debian — the slixmpp and
// aioxmpp libraries and the go-sendxmpp command, three independent stacks —
// against an in-process Ignis; build tag interop. The clients run stock,
// without workarounds for their own bugs but one: slixmpp 1.8.3 holds back
// its registration IQs (see im_register.py).
//
// The tests need Debian's python3-slixmpp (1.8.3 in bookworm) and
// python3-aioxmpp (0.13.3) for the system interpreter /usr/bin/python3, and
// go-sendxmpp (0.5.6):
//
//	apt-get install python3-slixmpp python3-aioxmpp go-sendxmpp
//	go test -tags interop -count=1 ./internal/interop/
//
// Each test starts a server with servertest, writes the Python scripts of
// testdata/ to a temporary folder and runs them; a script prints what its
// client observed as JSON lines, which the test checks. Set
// IGNIS_INTEROP_LOG=1 to see slixmpp's debug log, the XML exchanged included,
// for passing tests too; a failing test always shows it.
package interop
