#!/usr/bin/env bash
# Side by side: the same `ignis bench` scenarios against Ignis, Prosody and
# ejabberd on loopback, in one run, each server started afresh before each
# scenario (Lua and Erlang keep freed memory), all with the same domain and
# accounts (user1..userN, password "secret", SCRAM-SHA-1 with 4096 iterations).
#
# Installs Debian's prosody and ejabberd when missing (root), uses the start
# scripts of ../shared/peers next to the repository, writes a JSON and an HTML
# report per run into the output folder and prints a Markdown table with the
# ratios (Ignis against each peer), also saved as OUT/table.md.
#
# Usage: scripts/compare.sh            (or: make compare)
# Settings (environment):
#   SESSIONS=5000        idle sessions for the memory figures
#   IDLE_DURATION=40s    each idle run, logins included (the peers log in ~300/s)
#   DURATION=10s         each login and chat run
#   LOGIN_LOOPS=50       concurrent login loops
#   CHAT_SESSIONS=200    chat sessions (100 pairs)
#   CHAT_RATE=1000       the fixed chat rate every server is offered (msgs/s);
#                        a second fixed-rate run uses half of Ignis's saturation
#   SAT_RATES="2000 4000 8000 16000 32000 64000 96000 128000 192000 256000 320000 384000 448000 512000"
#   SAT_STEP=5s          saturation: paced chat at each rate in turn, SAT_STEP
#                        each, until the server falls behind
#   SAT_TICK=1ms         the load generator's send tick in the saturation
#                        steps: what a session has due within a tick goes out
#                        in one write (the other runs keep the 100 us default)
#   SERVER_CPUS= CLIENT_CPUS=   pin the servers and the load generator to these
#                        CPUs (taskset lists, e.g. SERVER_CPUS=0 CLIENT_CPUS=1):
#                        each server gets the same core(s) of its own, and the
#                        load generator's work no longer competes with it;
#                        unset: the kernel places both
#   SERVERS="ignis prosody ejabberd"
#   SCENARIOS="idle-plain idle-tls login-plain login-tls chat-fixed chat-sat chat-half"
#                        group chat (XEP-0045, not in the default list):
#                        muc-fixed  MUC_ROOMS rooms of MUC_ROOM_SIZE at MUC_RATE
#                        muc-big    one room of MUC_BIG_SIZE, paced steps of
#                                   MUC_SAT_RATES until the server falls behind
#   MUC_ROOMS=10 MUC_ROOM_SIZE=100 MUC_RATE=20   (groupchat msgs/s; each is
#                        delivered to every occupant of its room)
#   MUC_BIG_SIZE=1000 MUC_SAT_RATES="5 10 20 50 100 200 300 500 700 1000 1500 2000"
#   MUC_STEP=15s         each muc run's sending (after the logins and joins)
#   MUC_JOIN_RATE=200    joins/s once all are logged in (a room's joins fan out
#                        n² presences; at once, a server buffers most of them)
#   MUC_SAT_P99=1000     ms: a muc-big step whose p99 is over it fell behind
#                        WebSocket (RFC 7395, not in the default list):
#                        idle-ws      the idle run over WebSocket
#                        chat-ws      chat-fixed over WebSocket
#                        chat-ws-sat  chat-sat's paced steps over WebSocket
#                        Listed, they turn on every server's WebSocket
#                        endpoint at WS_PATH on its HTTP port, for every
#                        scenario of the run (so that idle-plain's figure,
#                        the ratio's base, has the same configuration):
#                        Ignis [web], Prosody mod_websocket
#                        (consider_websocket_secure), ejabberd ejabberd_http
#                        with ejabberd_http_ws. SCRAM-SHA-1 as over TCP.
#   WS_PATH=/xmpp-websocket
#   IGNIS_HTTP_PORT=35280 PROSODY_HTTP_PORT=15280 EJABBERD_HTTP_PORT=25280
#                        The peers get a MUC service at conference.DOMAIN in
#                        their generated configs (a patched copy of the peers
#                        scripts in OUT/peers-scripts), limits lifted.
#                        PEP (XEP-0163, not in the default list):
#                        pep        PEP_SESSIONS users, each with PEP_CONTACTS
#                                   contacts (mutual subscriptions) and caps
#                                   asking for NODE+notify, publishing
#                                   PEP_RATE items/s in all (each notifies
#                                   every contact)
#                        pep-sat    the same in paced steps of PEP_SAT_RATES
#                                   publishes/s until the server falls behind
#                        pep-items  each user publishes one item to each of
#                                   PEP_ITEM_NODES nodes: server RSS per item
#   PEP_SESSIONS=200 PEP_CONTACTS=10 PEP_RATE=100 PEP_STEP=10s
#   PEP_SAT_RATES="200 500 1000 2000 4000 8000 16000"
#   PEP_ITEM_NODES=50 PEP_ITEM_RATE=500 (publishes/s of pep-items)
#                        The peers' generated configs have PEP already
#                        (Prosody's mod_pep; ejabberd's mod_pubsub with the
#                        pep plugin and mod_caps) and no rate limit on c2s.
#   OUT=/tmp/ignis-compare/DATE   output folder
#   IGNIS_PORT=35222 IGNIS_TLS_PORT=35223; the peers' ports come from peers/env.sh
#   IGNIS_SERVE_ARGS=    more flags for `ignis serve` (e.g. --cpuprofile FILE)
set -euo pipefail
# Descriptors inherited from the caller (a lock's, as `flock LOCK
# scripts/compare.sh` passes it) are closed here, so that the servers this
# script starts in the background do not keep the lock held after it ends;
# the caller's own copy still holds it for the whole run.
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-"; fi
done

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
. "$ROOT/scripts/lib.sh" # wait_port, sat_step
PEERS=${PEERS:-$ROOT/../shared/peers}
[ -f "$PEERS/env.sh" ] || { echo "compare: no peers scripts at $PEERS (expected ../shared/peers next to the repository)" >&2; exit 2; }

: "${SESSIONS:=5000}"
: "${IDLE_DURATION:=40s}"
: "${DURATION:=10s}"
: "${LOGIN_LOOPS:=50}"
: "${CHAT_SESSIONS:=200}"
: "${CHAT_RATE:=1000}"
: "${SAT_RATES:=2000 4000 8000 16000 32000 64000 96000 128000 192000 256000 320000 384000 448000 512000}"
: "${SAT_TICK:=1ms}"
: "${SAT_STEP:=5s}"
: "${SERVERS:=ignis prosody ejabberd}"
: "${MUC_ROOMS:=10}"
: "${MUC_ROOM_SIZE:=100}"
: "${MUC_RATE:=20}"
: "${MUC_BIG_SIZE:=1000}"
: "${MUC_SAT_RATES:=5 10 20 50 100 200 300 500 700 1000 1500 2000}"
: "${MUC_STEP:=15s}"
: "${MUC_JOIN_RATE:=200}"
: "${MUC_SAT_P99:=1000}"
: "${PEP_SESSIONS:=200}"
: "${PEP_CONTACTS:=10}"
: "${PEP_RATE:=100}"
: "${PEP_STEP:=10s}"
: "${PEP_SAT_RATES:=200 500 1000 2000 4000 8000 16000}"
: "${PEP_ITEM_NODES:=50}"
: "${PEP_ITEM_RATE:=500}"
: "${WS_PATH:=/xmpp-websocket}"
: "${IGNIS_HTTP_PORT:=35280}"
: "${PROSODY_HTTP_PORT:=15280}"
: "${EJABBERD_HTTP_PORT:=25280}"
: "${SERVER_CPUS:=}"
: "${CLIENT_CPUS:=}"
SERVER_PIN=() CLIENT_PIN=()
[ -n "$SERVER_CPUS" ] && SERVER_PIN=(taskset -c "$SERVER_CPUS")
[ -n "$CLIENT_CPUS" ] && CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
: "${SCENARIOS:=idle-plain idle-tls login-plain login-tls chat-fixed chat-sat chat-half}"
: "${OUT:=/tmp/ignis-compare/$(date -u +%Y%m%dT%H%M%SZ)}"
: "${IGNIS_PORT:=35222}"
: "${IGNIS_TLS_PORT:=35223}"
: "${IGNIS_SERVE_ARGS:=}"
WEB=
case " $SCENARIOS " in *-ws" "*|*-ws-*) WEB=1 ;; esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# the peers' runtime data goes with this run's output, not into a shared /tmp/peers
export PEERS_RUN="${PEERS_RUN:-$OUT/peers}"

# The peers' start scripts generate their configs; a copy of them here adds
# a group chat service at conference.DOMAIN with the limits lifted, so that
# muc-* measures the servers, not their defaults (Prosody: no room locking,
# rooms open to all; ejabberd: rooms up to 2000 occupants, presence
# broadcast to all of them, no per-user room cap, no message or presence
# interval, process queues far above what a run can queue).
PEERS_SRC=$PEERS
PEERS=$OUT/peers-scripts
rm -rf "$PEERS"; cp -r "$PEERS_SRC" "$PEERS"; chmod -R u+w,a+rX "$PEERS"
export PROSODY_HTTP_PORT EJABBERD_HTTP_PORT WS_PATH
python3 - "$PEERS/servers" "$WEB" <<'PYEOF'
import sys
d = sys.argv[1]
def patch(name, before, text):
    p = f"{d}/{name}"
    s = open(p).read()
    i = s.index(before)
    open(p, "w").write(s[:i] + text + s[i:])
patch("start-prosody.sh", "\nEOF\n", '''

Component "conference.$PEERS_DOMAIN" "muc"
    restrict_room_creation = false
    muc_room_locking = false
    muc_room_default_public = true
    muc_tombstones = false
    muc_room_cache_size = 10000
    ${PROSODY_MUC_EXTRA:-}
''')
patch("start-ejabberd.sh", "modules:\n", '''max_fsm_queue: 10000000
''')
patch("start-ejabberd.sh", "\nEOF\n", '''
  mod_muc:
    host: "conference.@HOST@"
    access: all
    access_create: all
    access_persistent: all
    max_users: 2000
    max_users_presence: 2000
    max_user_conferences: 10000
    min_message_interval: 0
    min_presence_interval: 0
    default_room_options:
      max_users: 2000
      mam: false
      logging: false
${EJABBERD_MUC_EXTRA:-}''')
if sys.argv[2]:
    # WebSocket endpoints at the same path as Ignis's, on loopback; Prosody
    # takes the session as secure (as behind a TLS proxy), which changes
    # nothing for SCRAM; ejabberd's HTTP listener takes no shaper or access
    # options (its c2s_shaper rule is none, as over TCP)
    def sub(name, old, new):
        p = f"{d}/{name}"
        s = open(p).read()
        assert old in s, (name, old)
        open(p, "w").write(s.replace(old, new, 1))
    sub("start-prosody.sh", "http_ports = { }", '''http_ports = { $PROSODY_HTTP_PORT }
http_interfaces = { "127.0.0.1" }
consider_websocket_secure = true''')
    sub("start-prosody.sh", '"offline"; "register";', '"offline"; "register"; "websocket";')
    sub("start-ejabberd.sh", "# allow bulk in-band registration", '''  -
    port: $EJABBERD_HTTP_PORT
    ip: "127.0.0.1"
    module: ejabberd_http
    backlog: 1024
    request_handlers:
      $WS_PATH: ejabberd_http_ws
# allow bulk in-band registration''')
PYEOF
# shellcheck source=/dev/null
. "$PEERS/env.sh"
DOMAIN=$PEERS_DOMAIN
USERS=${PEERS_USER_PREFIX}%d
PASSWORD=$PEERS_PASSWORD

log() { printf '%s compare: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
secs() { local d=$1; d=${d%s}; echo "${d%.*}"; }   # "10s" -> 10

# --- packages -----------------------------------------------------------------
need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
command -v ejabberdctl >/dev/null 2>&1 || need+=(ejabberd)
if [ ${#need[@]} -gt 0 ]; then
    case " $SERVERS " in *" prosody "*|*" ejabberd "*)
        [ "$(id -u)" = 0 ] || { echo "compare: ${need[*]} missing; install them (apt-get install -y --no-install-recommends ${need[*]}) or run as root" >&2; exit 2; }
        log "installing ${need[*]} from Debian"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >"$OUT/apt.log" 2>&1 || {
            apt-get update -q >>"$OUT/apt.log" 2>&1
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >>"$OUT/apt.log" 2>&1
        } ;;
    esac
fi

peers_raise_nofile
[ "$(id -u)" = 0 ] && "$PEERS/tune-host.sh" >"$OUT/tune-host.log" 2>&1 || true
# the load generator's connections take ephemeral ports from 1024 up
# (tune-host.sh): keep the WebSocket listeners' ports out of that range, or
# a server restarted while the last run's sockets linger finds its port taken
if [ -n "$WEB" ] && [ "$(id -u)" = 0 ]; then
    reserved=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)
    sysctl -qw net.ipv4.ip_local_reserved_ports="${reserved:+$reserved,}$IGNIS_HTTP_PORT,$PROSODY_HTTP_PORT,$EJABBERD_HTTP_PORT" || true
fi

# --- ports: refuse to measure someone else's server ------------------------------
port_of() { case $1 in ignis) echo "$IGNIS_PORT" ;; prosody) echo "$PROSODY_PORT" ;; ejabberd) echo "$EJABBERD_PORT" ;; esac; }
tls_port_of() { case $1 in ignis) echo "$IGNIS_TLS_PORT" ;; prosody) echo "$PROSODY_TLS_PORT" ;; ejabberd) echo "$EJABBERD_TLS_PORT" ;; esac; }
http_port_of() { case $1 in ignis) echo "$IGNIS_HTTP_PORT" ;; prosody) echo "$PROSODY_HTTP_PORT" ;; ejabberd) echo "$EJABBERD_HTTP_PORT" ;; esac; }
for s in $SERVERS; do
    for p in "$(port_of "$s")" "$(tls_port_of "$s")" ${WEB:+"$(http_port_of "$s")"}; do
        if ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
            echo "compare: port $p ($s) is already in use; stop that server or set the ports (IGNIS_PORT, PROSODY_PORT, ...)" >&2
            exit 2
        fi
    done
done

# --- Ignis: build and accounts ----------------------------------------------------
IGNIS=$OUT/bin/ignis
log "building Ignis into $IGNIS"
(cd "$ROOT" && go build -o "$IGNIS" ./cmd/ignis)
IGNIS_DATA=$OUT/ignis-data
# Ignis's group chat limits lifted as the peers' are (its defaults: rooms of
# 200 at most, 5 messages/s per occupant); everything else is the default.
IGNIS_CONFIG=$OUT/ignis.toml
printf '%s\n' "# generated by compare.sh" "[muc]" "max_occupants = 2000" "max_rooms_per_user = 0" \
    "message_rate = 1000000" "message_burst = 1000000" >"$IGNIS_CONFIG"
if [ -n "$WEB" ]; then
    printf '%s\n' "[web]" "enabled = true" "http = \"127.0.0.1:$IGNIS_HTTP_PORT\"" "https = \"off\"" \
        "websocket_path = \"$WS_PATH\"" >>"$IGNIS_CONFIG"
fi

# --- server control ---------------------------------------------------------------
SERVER_PID=
start_server() {  # start_server KIND [--fresh]
    case $1 in
    ignis)
        # shellcheck disable=SC2086
        setsid "${SERVER_PIN[@]}" "$IGNIS" serve --config "$IGNIS_CONFIG" $IGNIS_SERVE_ARGS --data "$IGNIS_DATA" --domain "$DOMAIN" \
            --c2s "127.0.0.1:$IGNIS_PORT" --c2s-tls "127.0.0.1:$IGNIS_TLS_PORT" --log-level warn \
            >>"$OUT/ignis-server.log" 2>&1 </dev/null &
        SERVER_PID=$!
        wait_port "$IGNIS_PORT" 30 || { echo "compare: Ignis did not start; see $OUT/ignis-server.log" >&2; exit 1; }
        ;;
    prosody)
        "$PEERS/servers/start-prosody.sh" ${2:-} >>"$OUT/prosody-ctl.log" 2>&1 || { tail "$OUT/prosody-ctl.log" >&2; exit 1; }
        SERVER_PID=$(cat "$PEERS_RUN/prosody/server.pid")
        ;;
    ejabberd)
        "$PEERS/servers/start-ejabberd.sh" ${2:-} >>"$OUT/ejabberd-ctl.log" 2>&1 || { tail "$OUT/ejabberd-ctl.log" >&2; exit 1; }
        SERVER_PID=$(cat "$PEERS_RUN/ejabberd/server.pid")
        # the listener opens before the node has settled; let it
        sleep 2
        ;;
    esac
    if [ -n "$WEB" ]; then
        wait_port "$(http_port_of "$1")" 30 || { echo "compare: $1 has no WebSocket listener on port $(http_port_of "$1")" >&2; exit 1; }
    fi
    if [ -n "$SERVER_CPUS" ] && [ "$1" != ignis ]; then
        # every thread of the running server (Lua, the Erlang VM's schedulers)
        taskset -a -cp "$SERVER_CPUS" "$SERVER_PID" >/dev/null
    fi
}

stop_server() {  # stop_server KIND
    case $1 in
    ignis)
        if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID"
            for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
            wait "$SERVER_PID" 2>/dev/null || true
        fi ;;
    prosody) "$PEERS/servers/stop-prosody.sh" >>"$OUT/prosody-ctl.log" 2>&1 ;;
    ejabberd) "$PEERS/servers/stop-ejabberd.sh" >>"$OUT/ejabberd-ctl.log" 2>&1 ;;
    esac
    SERVER_PID=
}

CURRENT=
cleanup() { [ -n "$CURRENT" ] && stop_server "$CURRENT"; true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- accounts: the same user1..userN on every server ---------------------------------
# Each chat scenario has users of its own, so that the messages a server stored
# offline in one run (those still queued when the run ended) are not delivered
# into the next one.
nsat=$(echo "$SAT_RATES" | wc -w)
# chat users: 0 chat-fixed, 1 chat-half, 2.. the chat-sat steps, then
# chat-ws and the chat-ws-sat steps
ACCOUNTS=$(( SESSIONS > (3 + 2 * nsat) * CHAT_SESSIONS ? SESSIONS : (3 + 2 * nsat) * CHAT_SESSIONS ))
ACCOUNTS=$(( ACCOUNTS > LOGIN_LOOPS ? ACCOUNTS : LOGIN_LOOPS ))
# group chat: user1.. again (rooms are not stored offline); the steps of
# muc-big reuse the same users
MUC_ACCOUNTS=$(( MUC_ROOMS * MUC_ROOM_SIZE > MUC_BIG_SIZE ? MUC_ROOMS * MUC_ROOM_SIZE : MUC_BIG_SIZE ))
ACCOUNTS=$(( ACCOUNTS > MUC_ACCOUNTS ? ACCOUNTS : MUC_ACCOUNTS ))
# PEP: users of their own after all the others (their rosters and nodes
# stay between the pep runs, which then find them in place)
PEP_FIRST=$(( ACCOUNTS + 1 ))
ACCOUNTS=$(( ACCOUNTS + PEP_SESSIONS ))
for s in $SERVERS; do
    case $s in
    ignis)
        log "ignis: creating $ACCOUNTS accounts"
        rm -rf "$IGNIS_DATA"
        "$IGNIS" user add --data "$IGNIS_DATA" --bulk "$ACCOUNTS" --users "$USERS" --password "$PASSWORD" >"$OUT/ignis-provision.log" 2>&1
        ;;
    prosody|ejabberd)
        log "$s: fresh data, creating $ACCOUNTS accounts"
        CURRENT=$s; start_server "$s" --fresh
        "$PEERS/provision-users.sh" "$s" "$ACCOUNTS" >"$OUT/$s-provision.log" 2>&1 || { cat "$OUT/$s-provision.log" >&2; exit 1; }
        grep -E "registered|provisioning took" "$OUT/$s-provision.log" >&2 || true
        stop_server "$s"; CURRENT=
        ;;
    *) echo "compare: unknown server $s" >&2; exit 2 ;;
    esac
done

# --- scenarios ------------------------------------------------------------------
# Users: idle runs use user1..SESSIONS, login runs user1..LOGIN_LOOPS; each
# chat run takes CHAT_SESSIONS users of its own (see ACCOUNTS above).
HALF_RATE=
WS="--transport websocket --ws-path $WS_PATH"
chat_users() { echo "--first-user $(( $1 * CHAT_SESSIONS + 1 ))"; }  # chat_users K
bench_args() {  # bench_args SCENARIO [RATE STEP] -> the scenario's flags
    case $1 in
    idle-plain)  echo "--scenario idle --sessions $SESSIONS --duration $IDLE_DURATION --tls none" ;;
    idle-tls)    echo "--scenario idle --sessions $SESSIONS --duration $IDLE_DURATION --tls starttls" ;;
    login-plain) echo "--scenario login --sessions $LOGIN_LOOPS --duration $DURATION --tls none" ;;
    login-tls)   echo "--scenario login --sessions $LOGIN_LOOPS --duration $DURATION --tls starttls" ;;
    chat-fixed)  echo "--scenario chat --sessions $CHAT_SESSIONS $(chat_users 0) --rate $CHAT_RATE --duration $DURATION --drain 5s --tls none" ;;
    chat-half)   echo "--scenario chat --sessions $CHAT_SESSIONS $(chat_users 1) --rate $HALF_RATE --duration $DURATION --drain 5s --tls none" ;;
    chat-sat)    echo "--scenario chat --sessions $CHAT_SESSIONS $(chat_users $((2 + $3))) --rate $2 --duration $SAT_STEP --drain 3s --tls none --tick $SAT_TICK" ;;
    idle-ws)     echo "--scenario idle --sessions $SESSIONS --duration $IDLE_DURATION --tls none $WS" ;;
    chat-ws)     echo "--scenario chat --sessions $CHAT_SESSIONS $(chat_users $((2 + nsat))) --rate $CHAT_RATE --duration $DURATION --drain 5s --tls none $WS" ;;
    chat-ws-sat) echo "--scenario chat --sessions $CHAT_SESSIONS $(chat_users $((3 + nsat + $3))) --rate $2 --duration $SAT_STEP --drain 3s --tls none --tick $SAT_TICK $WS" ;;
    muc-fixed)   echo "--scenario muc --sessions $((MUC_ROOMS * MUC_ROOM_SIZE)) --room-size $MUC_ROOM_SIZE --rate $MUC_RATE --join-rate $MUC_JOIN_RATE --duration $MUC_STEP --drain 5s --timeout 120s --tls none" ;;
    muc-big)     echo "--scenario muc --sessions $MUC_BIG_SIZE --room-size $MUC_BIG_SIZE --rate $2 --join-rate $MUC_JOIN_RATE --duration $MUC_STEP --drain 3s --timeout 120s --tls none --tick $SAT_TICK" ;;
    pep)         echo "$pep_common --rate $PEP_RATE --duration $PEP_STEP --drain 5s" ;;
    pep-sat)     echo "$pep_common --rate $2 --duration $PEP_STEP --drain 3s --tick $SAT_TICK" ;;
    pep-items)   echo "$pep_common --pep-node urn:ignis:bench:items --pep-nodes $PEP_ITEM_NODES --rate $PEP_ITEM_RATE --messages $((PEP_SESSIONS * PEP_ITEM_NODES)) --duration 600s --drain 5s" ;;
    *) echo "compare: unknown scenario $1" >&2; exit 2 ;;
    esac
}
pep_common="--scenario pep --sessions $PEP_SESSIONS --first-user $PEP_FIRST --roster-size $PEP_CONTACTS --timeout 120s --tls none"

# run_bench NAME SERVER ARGS: one bounded bench run against the running server
run_bench() {
    local name=$1 s=$2 args=$3 dur drain to port
    port=$(port_of "$s")
    case "$args" in *"--transport websocket"*) port=$(http_port_of "$s") ;; esac
    log "$name (pid $SERVER_PID): ignis bench --addr 127.0.0.1:$port $args"
    dur=$(secs "$(echo "$args" | sed -n 's/.*--duration \([0-9.]*s\).*/\1/p')")
    drain=$(secs "$(echo "$args" | sed -n 's/.*--drain \([0-9.]*s\).*/\1/p')")
    # muc, pep: the logins and the joins (rosters) come on top of --duration,
    # --timeout each
    case "$args" in *"--scenario muc"*|*"--scenario pep"*)
        to=$(secs "$(echo "$args" | sed -n 's/.*--timeout \([0-9.]*s\).*/\1/p')")
        dur=$((dur + 2 * ${to:-30})) ;;
    esac
    # bounded: the run's own duration, drain and teardown, then a hard stop
    # shellcheck disable=SC2086
    timeout --kill-after=10 $((dur + ${drain:-5} + 90)) "${CLIENT_PIN[@]}" "$IGNIS" bench --addr "127.0.0.1:$port" --domain "$DOMAIN" \
        --users "$USERS" --password "$PASSWORD" --mech SCRAM-SHA-1 --server-pid "$SERVER_PID" \
        --progress 5s $args --json "$OUT/$name.json" --html "$OUT/$name.html" \
        >"$OUT/$name.txt" 2>"$OUT/$name.progress" || log "$name: bench exited with $? (see $OUT/$name.progress)"
    grep -E "^(sessions|logins|messages|notifications|pep|latency ms|server RSS/session|muc joins|server RSS/occupant|server RSS/occupant settled|server RSS/item) " "$OUT/$name.txt" | sed 's/^/    /' >&2 || true
}

save_sat() {  # save_sat SERVER BEST STEP [FILE] -> OUT/FILE (saturation.json; STEP: the run that delivered BEST)
    python3 -c '
import json, sys
path, s, best, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    d = json.load(open(path))
except (OSError, ValueError):
    d = {}
d.setdefault("saturation", {})[s] = best
d.setdefault("step", {})[s] = step
json.dump(d, open(path, "w"), indent=1)
' "$OUT/${4:-saturation.json}" "$1" "$2" "$3"
}

for sc in $SCENARIOS; do
    # muc-big: the peers' rooms broadcast no occupant presence (each still
    # gets its own): 1,000 joins with it are a million presences, minutes of
    # Prosody's and ejabberd's time per step, which the fan-out figure does
    # not depend on. Ignis has no such switch and joins with it.
    if [ "$sc" = muc-big ]; then
        export PROSODY_MUC_EXTRA='muc_room_default_presence_broadcast = { }'
        export EJABBERD_MUC_EXTRA='      presence_broadcast: []'
    else
        export PROSODY_MUC_EXTRA= EJABBERD_MUC_EXTRA=
    fi
    if [ "$sc" = chat-half ]; then
        HALF_RATE=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["saturation"]["ignis"]) // 2)' "$OUT/saturation.json" 2>/dev/null || true)
        [ -n "$HALF_RATE" ] && [ "$HALF_RATE" -gt 0 ] || { log "chat-half: no Ignis saturation figure (run chat-sat first), skipped"; continue; }
    fi
    for s in $SERVERS; do
        CURRENT=$s; start_server "$s"
        if [ "$sc" = muc-big ]; then
            # fan-out saturation: the chat-sat stepping with one room of
            # MUC_BIG_SIZE, counted in deliveries (messages x occupants)
            # A fresh server for each step: a big room's departures (n²
            # presences) would still run into the next step's joins.
            # Two figures: the best step kept up (p99 within MUC_SAT_P99),
            # and the most delivered by any step, overloaded ones included.
            best=0 bestrun= k=0 keptbest=0 keptrun=
            for rate in $MUC_SAT_RATES; do
                if [ $k -gt 0 ]; then stop_server "$s"; start_server "$s"; fi
                k=$((k + 1))
                run_bench "muc-big-$s-$rate" "$s" "$(bench_args muc-big "$rate")"
                if med=$(sat_step "$OUT/muc-big-$s-$rate.json" "$rate" "$MUC_BIG_SIZE" "$MUC_SAT_P99"); then kept=1; else kept=0; fi
                [ "${med:-0}" -gt "$best" ] && best=$med bestrun=muc-big-$s-$rate
                [ $kept = 1 ] && [ "${med:-0}" -gt "$keptbest" ] && keptbest=$med keptrun=muc-big-$s-$rate
                log "muc-big on $s at $rate msgs/s: ${med:-0} deliveries/s (median), $([ $kept = 1 ] && echo kept up || echo fell behind)"
                [ $kept = 1 ] || break
            done
            save_sat "$s" "$best" "$bestrun" muc-saturation.json
            [ -n "$keptrun" ] && save_sat "$s" "$keptbest" "$keptrun" muc-kept.json
        elif [ "$sc" = pep-sat ]; then
            # notification saturation: paced publish steps until the server
            # falls behind, counted in notifications (publishes x contacts)
            best=0 bestrun=
            for rate in $PEP_SAT_RATES; do
                run_bench "pep-sat-$s-$rate" "$s" "$(bench_args pep-sat "$rate")"
                if med=$(sat_step "$OUT/pep-sat-$s-$rate.json" "$rate" "$PEP_CONTACTS"); then kept=1; else kept=0; fi
                [ "${med:-0}" -gt "$best" ] && best=$med bestrun=pep-sat-$s-$rate
                log "pep-sat on $s at $rate publishes/s: ${med:-0} notifications/s (median), $([ $kept = 1 ] && echo kept up || echo fell behind)"
                [ $kept = 1 ] || break
            done
            save_sat "$s" "$best" "$bestrun" pep-saturation.json
        elif [ "$sc" != chat-sat ] && [ "$sc" != chat-ws-sat ]; then
            run_bench "$sc-$s" "$s" "$(bench_args "$sc")"
        else
            # saturation: paced steps of doubling rate until the server falls
            # behind; its capacity is the best delivered rate of any step (at
            # the failing step, offered 1 to 2 times the capacity, the
            # delivered rate is the capacity)
            best=0 k=0 bestrun=
            for rate in $SAT_RATES; do
                run_bench "$sc-$s-$rate" "$s" "$(bench_args "$sc" "$rate" "$k")"
                k=$((k + 1))
                if med=$(sat_step "$OUT/$sc-$s-$rate.json" "$rate"); then kept=1; else kept=0; fi
                [ "${med:-0}" -gt "$best" ] && best=$med bestrun=$sc-$s-$rate
                log "$sc on $s at $rate/s: ${med:-0} delivered/s (median), $([ $kept = 1 ] && echo kept up || echo fell behind)"
                [ $kept = 1 ] || break
            done
            if [ "$sc" = chat-sat ]; then save_sat "$s" "$best" "$bestrun"; else save_sat "$s" "$best" "$bestrun" ws-saturation.json; fi
        fi
        stop_server "$s"; CURRENT=
    done
done

# --- versions and the table --------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB, $(uname -sr)"
    echo "ignis: $(git -C "$ROOT" describe --always --dirty 2>/dev/null) ($(go version | awk '{print $3}'))"
    echo "prosody: $(dpkg-query -W -f '${Version}' prosody 2>/dev/null) (lua $(dpkg-query -W -f '${Version}' lua5.4 2>/dev/null))"
    echo "ejabberd: $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null) (erlang $(dpkg-query -W -f '${Version}' erlang-base 2>/dev/null))"
    echo "settings: SESSIONS=$SESSIONS IDLE_DURATION=$IDLE_DURATION DURATION=$DURATION LOGIN_LOOPS=$LOGIN_LOOPS CHAT_SESSIONS=$CHAT_SESSIONS CHAT_RATE=$CHAT_RATE SAT_RATES='$SAT_RATES' SAT_STEP=$SAT_STEP SAT_TICK=$SAT_TICK SERVER_CPUS=${SERVER_CPUS:-any} CLIENT_CPUS=${CLIENT_CPUS:-any} half-rate=${HALF_RATE:-none}"
    echo "pep: PEP_SESSIONS=$PEP_SESSIONS PEP_CONTACTS=$PEP_CONTACTS PEP_RATE=$PEP_RATE PEP_STEP=$PEP_STEP PEP_SAT_RATES='$PEP_SAT_RATES' PEP_ITEM_NODES=$PEP_ITEM_NODES PEP_ITEM_RATE=$PEP_ITEM_RATE"
    [ -n "$WEB" ] && echo "websocket: WS_PATH=$WS_PATH (Ignis [web], Prosody mod_websocket, ejabberd ejabberd_http_ws); idle-plain and the other TCP runs had it on too"
    echo "group chat: MUC_ROOMS=$MUC_ROOMS MUC_ROOM_SIZE=$MUC_ROOM_SIZE MUC_RATE=$MUC_RATE MUC_BIG_SIZE=$MUC_BIG_SIZE MUC_SAT_RATES='$MUC_SAT_RATES' MUC_STEP=$MUC_STEP MUC_JOIN_RATE=$MUC_JOIN_RATE MUC_SAT_P99=$MUC_SAT_P99"
} >"$OUT/versions.txt"

python3 - "$OUT" "$SESSIONS" "$CHAT_RATE" "${HALF_RATE:-0}" "$LOGIN_LOOPS" "$CHAT_SESSIONS" \
    "$MUC_ROOMS" "$MUC_ROOM_SIZE" "$MUC_RATE" "$MUC_BIG_SIZE" "$MUC_SAT_P99" "${MUC_SAT_RATES%% *}" \
    "$PEP_SESSIONS" "$PEP_CONTACTS" "$PEP_RATE" "$PEP_ITEM_NODES" >"$OUT/table.md" <<'EOF'
import json, os, statistics, sys
out, sessions, chat_rate, half, loops, chat_sessions = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
muc_rooms, muc_size, muc_rate, big_size, big_p99, big_first = (int(v) for v in sys.argv[7:13])
pep_sessions, pep_contacts, pep_rate, pep_nodes = (int(v) for v in sys.argv[13:17])
servers = ["ignis", "prosody", "ejabberd"]
names = {"ignis": "Ignis", "prosody": "Prosody", "ejabberd": "ejabberd"}

def read(name):
    """OUT/name as JSON, or None where that run left nothing readable."""
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None

def load(sc, s):
    if sc == "chat-sat":
        return {"sat": saturation[s]} if s in saturation else None
    if sc == "chat-ws-sat":
        return {"sat": ws_sat[s]} if s in ws_sat else None
    if sc == "idle-ws-ratio":  # a server's WebSocket figure over its own TCP one
        ws, tcp = load("idle-ws", s), load("idle-plain", s)
        return {"ws": ws, "tcp": tcp} if ws and tcp else None
    if sc == "muc-big-sat":
        return {"sat": muc_sat[s]} if s in muc_sat else None
    if sc == "pep-sat":
        return {"sat": pep_sat[s]} if s in pep_sat else None
    if sc == "pep-satstep":
        sc = pep_steps.get(s)
        return read(f"{sc}.json") if sc else None
    if sc == "muc-big-kept":
        return {"sat": muc_kept[s]} if s in muc_kept else None
    if sc in ("muc-big-best", "muc-big-keptstep"):
        sc = (muc_steps if sc == "muc-big-best" else muc_kept_steps).get(s)
        return read(f"{sc}.json") if sc else None
    if sc == "muc-big-first":
        sc, s = "muc-big", f"{s}-{big_first}"
    return read(f"{sc}-{s}.json")

def saturation_file(name):
    """A save_sat file's best rate and the run that delivered it, per server."""
    d = read(name)
    return (d["saturation"], d.get("step", {})) if d is not None else ({}, {})

saturation, steps = saturation_file("saturation.json")
ws_sat, ws_steps = saturation_file("ws-saturation.json")
muc_sat, muc_steps = saturation_file("muc-saturation.json")
pep_sat, pep_steps = saturation_file("pep-saturation.json")
muc_kept, muc_kept_steps = saturation_file("muc-kept.json")

def rss(r):
    v = r.get("server_rss_per_session_bytes", 0)
    return v / 1024 if v else None

rows = []
def row(label, sc, get, fmt, better, goal=None, check=None, extra=None, ratios=True):
    vals = {s: (get(r) if (r := load(sc, s)) else None) for s in servers}
    if all(v is None for v in vals.values()):
        return  # a scenario not run
    cells = []
    for s in servers:
        v = vals[s]
        c = "—" if v is None else fmt(v)
        if v is not None and extra:
            c += extra(load(sc, s))
        cells.append(c)
    rs = []
    iv = vals["ignis"]
    for p in ("prosody", "ejabberd"):
        pv = vals[p]
        if not ratios:
            rs.append("")
        elif iv is None or pv is None or iv <= 0 or pv <= 0:
            rs.append("—")
        elif better == "low":
            rs.append(f"{pv / iv:.1f}× less" if pv >= iv else f"{iv / pv:.1f}× more")
        else:
            rs.append(f"{iv / pv:.1f}× more" if iv >= pv else f"{pv / iv:.1f}× less")
    verdict = goal or ""
    if goal and check and iv is not None:
        try:
            verdict += ": " + ("met" if check(vals) else "missed")
        except TypeError:  # a peer's figure is missing
            pass
    rows.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rs) + f" | {verdict} |")

def est(r):
    return f" ({r['sessions_established']:,}/{r['sessions']:,})" if r["sessions_established"] != r["sessions"] else ""

def best_peer(vals, high=True):
    ps = [vals[p] for p in ("prosody", "ejabberd") if vals.get(p)]
    return (max(ps) if high else min(ps)) if ps else None

row(f"RSS per idle session, plain TCP ({sessions:,} sessions)", "idle-plain", rss, lambda v: f"{v:.1f} KiB", "low",
    "≤ 4 KiB", lambda v: v["ignis"] <= 4, extra=est)
row(f"RSS per idle session, STARTTLS ({sessions:,} sessions)", "idle-tls", rss, lambda v: f"{v:.1f} KiB", "low",
    "≤ 12 KiB", lambda v: v["ignis"] <= 12, extra=est)
row(f"SCRAM-SHA-1 logins/s, plain TCP ({loops} loops)", "login-plain", lambda r: r["logins_per_s"], lambda v: f"{v:,.0f}", "high")
row(f"SCRAM-SHA-1 logins/s, STARTTLS ({loops} loops)", "login-tls", lambda r: r["logins_per_s"], lambda v: f"{v:,.0f}", "high",
    "≥ 5× the better peer", lambda v: v["ignis"] >= 5 * best_peer(v))
row(f"routed msgs/s at saturation ({chat_sessions} chat sessions, paced steps)", "chat-sat", lambda r: r["sat"], lambda v: f"{v:,.0f}", "high",
    "≥ 20× Prosody, ≥ 10× ejabberd",
    lambda v: v["ignis"] >= 20 * v["prosody"] and v["ignis"] >= 10 * v["ejabberd"])
def lat(key):
    return lambda r: r["latency_ms"][key] if r["latency_ms"]["count"] else None
def lost(r):
    sent, dl = r["messages_sent"], r["messages_delivered"]
    return f" ({dl / sent * 100:.0f} % delivered)" if sent and dl < sent * 0.999 else ""
if half:
    row(f"p50 latency at {half:,} msgs/s (half Ignis's saturation)", "chat-half", lat("p50"), lambda v: f"{v:,.2f} ms", "low")
    row(f"p99 latency at {half:,} msgs/s (half Ignis's saturation)", "chat-half", lat("p99"), lambda v: f"{v:,.2f} ms", "low",
        "≤ 2 ms (Ignis)", lambda v: v["ignis"] <= 2, extra=lost)
row(f"p50 latency at {int(chat_rate):,} msgs/s", "chat-fixed", lat("p50"), lambda v: f"{v:,.2f} ms", "low")
row(f"p99 latency at {int(chat_rate):,} msgs/s", "chat-fixed", lat("p99"), lambda v: f"{v:,.2f} ms", "low", extra=lost)
row(f"server CPU at {int(chat_rate):,} msgs/s", "chat-fixed", lambda r: (r.get("server") or {}).get("cpu_avg_pct"), lambda v: f"{v:.0f} %", "low")

# WebSocket (RFC 7395): the same runs over each server's WebSocket endpoint
row(f"RSS per idle session, WebSocket ({sessions:,} sessions)", "idle-ws", rss, lambda v: f"{v:.1f} KiB", "low", extra=est)
row("  WebSocket over the server's own plain TCP figure (same run)", "idle-ws-ratio",
    lambda r: rss(r["ws"]) / rss(r["tcp"]) if (rss(r["ws"]) or 0) > 0 and (rss(r["tcp"]) or 0) > 0 else None,
    lambda v: f"{v:.2f}×", "low",
    "≤ 2× TCP (Ignis)", lambda v: v["ignis"] <= 2, ratios=False)
row(f"routed msgs/s at saturation over WebSocket ({chat_sessions} chat sessions, paced steps)", "chat-ws-sat",
    lambda r: r["sat"], lambda v: f"{v:,.0f}", "high")
row(f"p50 latency at {int(chat_rate):,} msgs/s, WebSocket", "chat-ws", lat("p50"), lambda v: f"{v:,.2f} ms", "low")
row(f"p99 latency at {int(chat_rate):,} msgs/s, WebSocket", "chat-ws", lat("p99"), lambda v: f"{v:,.2f} ms", "low", extra=lost)
row(f"server CPU at {int(chat_rate):,} msgs/s, WebSocket", "chat-ws", lambda r: (r.get("server") or {}).get("cpu_avg_pct"), lambda v: f"{v:.0f} %", "low")

# the load generator's own share: if it had been the bottleneck its sends
# would have run late against the schedule
def client(r):
    c = r.get("client") or {}
    return f"{c.get('cpu_avg_pct', 0):.0f} % CPU, send lag p99 {c.get('send_lag_p99_ms', 0):.2f} ms"
cl = []
for s in servers:
    name = steps.get(s)
    r = read(f"{name}.json") if name else None
    cl.append(client(r) if r else "—")
def client_row(label, cells):
    if any(c != "—" for c in cells):
        rows.append(f"| load generator {label} | " + " | ".join(cells) + " | | | |")
client_row("at each server's best saturation step", cl)
def step_client(name):
    r = read(f"{name}.json") if name else None
    return client(r) if r is not None else "—"
client_row("at each server's best WebSocket saturation step", [step_client(ws_steps.get(s)) for s in servers])
for sc, label in (("chat-half", f"at {half:,} msgs/s"), ("chat-fixed", f"at {int(chat_rate):,} msgs/s"),
                  ("chat-ws", f"at {int(chat_rate):,} msgs/s, WebSocket")):
    if sc == "chat-half" and not half:
        continue
    client_row(label, [(client(r) if (r := load(sc, s)) else "—") for s in servers])

# group chat: deliveries are messages times the occupants of the room
def per_occ(r):  # RSS sampled the moment the last newcomer has its self-presence
    return (r.get("muc") or {}).get("server_rss_per_occupant_bytes") or None
def per_occ_settled(r):  # then every 0.5 s, no load, until 2 s of them within 1 % (10 s at most)
    return (r.get("muc") or {}).get("server_rss_settled_per_occupant_bytes") or None
def settle_note(r):
    j = r.get("muc") or {}
    if not j.get("server_rss_settled_bytes"):
        return ""
    return f" ({j.get('settle_s', 0):.1f} s{'' if j.get('settle_steady') else ', still moving'})"
def delivered(r):
    exp, dl = r.get("messages_expected", 0), r["messages_delivered"]
    j = r.get("muc") or {}
    s = f" ({dl / exp * 100:.0f} % delivered)" if exp and dl < exp * 0.999 else ""
    if r.get("messages_bounced"):
        s += f" ({r['messages_bounced']:,} bounced)"
    if j and j.get("occupants", 0) < j.get("occupants_wanted", 0):
        s += f" ({j['occupants']:,}/{j['occupants_wanted']:,} joined)"
    return s
fixed = f"{muc_rooms} rooms × {muc_size} at {muc_rate:,} msgs/s"
row(f"group chat deliveries/s, {fixed}", "muc-fixed", lambda r: r["messages_per_s"], lambda v: f"{v:,.0f}", "high", extra=delivered)
row(f"group chat p50 latency, {fixed}", "muc-fixed", lat("p50"), lambda v: f"{v:,.2f} ms", "low")
row(f"group chat p99 latency, {fixed}", "muc-fixed", lat("p99"), lambda v: f"{v:,.2f} ms", "low")
row(f"server RSS per occupant at the end of the joins, {fixed}", "muc-fixed", per_occ, lambda v: f"{v:,.0f} B", "low",
    "a few hundred bytes", lambda v: v["ignis"] <= 512)
row(f"server RSS per occupant settled after the joins, {fixed}", "muc-fixed", per_occ_settled, lambda v: f"{v:,.0f} B", "low",
    "a few hundred bytes", lambda v: v["ignis"] <= 512, extra=settle_note)
row(f"server CPU, {fixed}", "muc-fixed", lambda r: (r.get("server") or {}).get("cpu_avg_pct"), lambda v: f"{v:.0f} %", "low")
row(f"fan-out deliveries/s, one room of {big_size:,}: best step kept up (p99 ≤ {big_p99:,} ms)", "muc-big-kept",
    lambda r: r["sat"], lambda v: f"{v:,.0f}", "high",
    "≥ 10× the better peer", lambda v: v["ignis"] >= 10 * best_peer(v))
row(f"p99 latency at that step", "muc-big-keptstep", lat("p99"), lambda v: f"{v:,.2f} ms", "low", extra=delivered)
row(f"fan-out deliveries/s, one room of {big_size:,}: most delivered by any step (overloaded ones too)", "muc-big-sat",
    lambda r: r["sat"], lambda v: f"{v:,.0f}", "high")
row(f"p99 latency at that step", "muc-big-best", lat("p99"), lambda v: f"{v:,.2f} ms", "low", extra=delivered)
row(f"server RSS per occupant at the end of the joins, one room of {big_size:,} (first step, {big_first} msgs/s)", "muc-big-first", per_occ,
    lambda v: f"{v:,.0f} B", "low", "a few hundred bytes", lambda v: v["ignis"] <= 512)
row(f"server RSS per occupant settled after the joins, one room of {big_size:,} (first step)", "muc-big-first", per_occ_settled,
    lambda v: f"{v:,.0f} B", "low", "a few hundred bytes", lambda v: v["ignis"] <= 512, extra=settle_note)
client_row("at each server's best muc-big step", [(client(r) if (r := load("muc-big-best", s)) else "—") for s in servers])

# PEP: notifications are publishes times the contacts
def pep_lost(r):
    exp, dl = r.get("messages_expected", 0), r["messages_delivered"]
    s = f" ({dl / exp * 100:.1f} % delivered)" if exp and dl < exp * 0.999 else ""
    p = r.get("pep") or {}
    if p.get("publish_errors"):
        s += f" ({p['publish_errors']:,} publish errors)"
    return s
pep_fixed = f"{pep_sessions} users × {pep_contacts} contacts, {pep_rate:,} publishes/s"
row(f"PEP notifications/s, {pep_fixed}", "pep", lambda r: r["messages_per_s"], lambda v: f"{v:,.0f}", "high", extra=pep_lost)
row(f"PEP p50 publish→notification, {pep_fixed}", "pep", lat("p50"), lambda v: f"{v:,.2f} ms", "low")
row(f"PEP p99 publish→notification, {pep_fixed}", "pep", lat("p99"), lambda v: f"{v:,.2f} ms", "low")
row(f"server RSS, {pep_fixed}", "pep", lambda r: (r.get("server") or {}).get("rss_plateau_bytes", 0) / 1048576 or None, lambda v: f"{v:,.1f} MiB", "low")
row(f"server CPU, {pep_fixed}", "pep", lambda r: (r.get("server") or {}).get("cpu_avg_pct"), lambda v: f"{v:.0f} %", "low")
row(f"PEP notifications/s at saturation ({pep_sessions} users × {pep_contacts} contacts, paced steps)", "pep-sat",
    lambda r: r["sat"], lambda v: f"{v:,.0f}", "high")
row(f"PEP p99 at that step", "pep-satstep", lat("p99"), lambda v: f"{v:,.2f} ms", "low", extra=pep_lost)
row(f"server RSS per stored PEP item ({pep_sessions} users × {pep_nodes} nodes, one item each)", "pep-items",
    lambda r: (r.get("pep") or {}).get("server_rss_per_item_bytes") or None, lambda v: f"{v:,.0f} B", "low")

print("| measurement | Ignis | Prosody | ejabberd | Ignis vs Prosody | Ignis vs ejabberd | goal (issues) |")
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))
EOF

echo
cat "$OUT/versions.txt"
echo
cat "$OUT/table.md"
echo
echo "reports: $OUT/*.html (one per scenario and server), JSON next to them"
