# Ignis — make run starts the server on its embedded defaults; make test runs
# every check CI runs. Long fuzzing and load runs have targets of their own.

GO          ?= go
BIN         := bin/ignis
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 60s

.PHONY: all build run test unit interop lint fuzz bench soak clean install

# make install: where things go (DESTDIR stages into a folder, as packagers do).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
CONFDIR     ?= /etc/ignis
STATEDIR    ?= /var/lib/ignis

all: build

# the commit goes into `ignis version` and XEP-0092 (Go stamps none in a worktree)
COMMIT      := $(shell git rev-parse --short=12 HEAD 2>/dev/null)

build:
	$(GO) build -ldflags "-X ignis/mod/version.commit=$(COMMIT)" -o $(BIN) ./cmd/ignis

# The server for domain localhost: STARTTLS on :5222, direct TLS on :5223,
# data (Pebble, self-signed certificate) in ./data.
run: build
	./$(BIN) serve --data ./data --domain localhost

test: lint unit interop

unit:
	$(GO) test -count=1 -timeout 20m ./...

# Debian's client stacks (python3-slixmpp, python3-aioxmpp, go-sendxmpp) against an in-process server.
interop:
	$(GO) test -count=1 -timeout 10m -tags interop ./internal/interop/

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags interop ./internal/interop/
	$(GO) run $(STATICCHECK) ./...

# The kill -9 fault loops with many rounds (make test runs a few):
# acknowledged messages, roster items and subscriptions survive exactly once;
# then the slow offline delivery to a client reading through a small window.
SOAK_ROUNDS ?= 40
soak:
	IGNIS_CRASH_ROUNDS=$(SOAK_ROUNDS) $(GO) test -count=1 -timeout 60m -v -run 'TestKill' ./internal/crashtest/
	IGNIS_SOAK=1 $(GO) test -count=1 -timeout 10m -v -run 'TestOfflineFlushPacedByReader' ./internal/e2e/

# Coverage-guided fuzzing beyond the seed corpus that make test replays:
# every target for FUZZTIME each, one after the other (FUZZFLAGS="-parallel 1"
# on a shared machine). A failing input lands in the package's testdata/fuzz.
FUZZFLAGS   ?=
FUZZ_TARGETS := \
	xmlscan:FuzzScanner xmlscan:FuzzElem jid:FuzzParse stanza:FuzzFromFrame \
	session:FuzzStream session:FuzzStreamWebSocket session/sasl:FuzzSCRAM session/sasl:FuzzPlain \
	store:FuzzDecodeAccount s2s:FuzzIncoming s2s:FuzzOutgoing component:FuzzComponent \
	web:FuzzWeb proxy65:FuzzSOCKS5 mod/upload:FuzzHTTP mod/pubsub:FuzzConfigForm mod/mam:FuzzParseRequest
fuzz:
	GO=$(GO) FUZZFLAGS="$(FUZZFLAGS)" scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./xmlscan/ ./jid/ ./store/

# Ignis, Prosody and ejabberd side by side on loopback (installs the two from
# Debian when missing); settings in scripts/compare.sh, e.g. SESSIONS=5000.
.PHONY: compare
compare:
	./scripts/compare.sh

# Two Ignis, then two Prosody, then two ejabberd, federated on loopback: chat
# across the link (scripts/compare-s2s.sh: s2s-fixed and the stepped s2s-sat;
# SERVERS="ignis prosody" leaves ejabberd out, which needs root).
.PHONY: compare-s2s
compare-s2s:
	./scripts/compare-s2s.sh

# The binary, a sandboxed systemd unit, the ignis system user (sysusers.d),
# a config sample (kept if one is there) and the data folder owned by ignis.
# With DESTDIR the tree is only staged; without it, as root, the user is
# created and ownership set, then: systemctl enable --now ignis.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/ignis
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' dist/ignis.service > $(DESTDIR)$(UNITDIR)/ignis.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ignis.service
	install -D -m 0644 dist/ignis.sysusers $(DESTDIR)$(SYSUSERSDIR)/ignis.conf
	install -d -m 0755 $(DESTDIR)$(CONFDIR)
	[ -e $(DESTDIR)$(CONFDIR)/ignis.toml ] || install -m 0640 dist/ignis.toml $(DESTDIR)$(CONFDIR)/ignis.toml
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		systemd-sysusers $(SYSUSERSDIR)/ignis.conf 2>/dev/null || id ignis >/dev/null 2>&1 || \
			useradd --system --home-dir $(STATEDIR) --no-create-home --shell /usr/sbin/nologin ignis; \
		chown ignis:ignis $(STATEDIR); chgrp ignis $(CONFDIR)/ignis.toml; \
		systemctl daemon-reload 2>/dev/null || true; \
		echo "installed; edit $(CONFDIR)/ignis.toml, then: systemctl enable --now ignis"; \
		echo "accounts: sudo -u ignis $(BINDIR)/ignis user add --data $(STATEDIR) alice@DOMAIN"; \
	fi

clean:
	rm -rf bin
