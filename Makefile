# Ignis — make run starts the server on its embedded defaults; make test runs
# every check CI runs. Long fuzzing and load runs have targets of their own.

GO          ?= go
BIN         := bin/ignis
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 60s

.PHONY: all build run test unit interop lint fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ignis

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

# Coverage-guided fuzzing beyond the seed corpus that make test replays.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzScanner$$' -fuzztime $(FUZZTIME) ./xmlscan/
	$(GO) test -run '^$$' -fuzz '^FuzzElem$$' -fuzztime $(FUZZTIME) ./xmlscan/
	$(GO) test -run '^$$' -fuzz '^FuzzStream$$' -fuzztime $(FUZZTIME) ./session/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./jid/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./xmlscan/ ./jid/ ./store/

# Ignis, Prosody and ejabberd side by side on loopback (installs the two from
# Debian when missing); settings in scripts/compare.sh, e.g. SESSIONS=5000.
.PHONY: compare
compare:
	./scripts/compare.sh

clean:
	rm -rf bin
