# Shell functions the side-by-side scripts (compare.sh, compare-s2s.sh)
# share; sourced, not run.

# wait_port PORT SECONDS: waits until something listens on PORT.
wait_port() {
    local i
    for i in $(seq 1 $(($2 * 5))); do
        ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.2
    done
    return 1
}

# sat_step FILE RATE [FANOUT P99MS MINSENT]: prints the median of the
# per-second delivered counts of a bench report while sending (the seconds
# that sent more than MINSENT messages, default 0; the first and last of
# them left out), and fails when the server did not keep up with RATE
# messages, each delivered FANOUT times (under 90 % of the deliveries per
# second, over 2 % lost, or p99 over P99MS, default 1 s).
sat_step() {
    python3 -c '
import json, sys, statistics
r, rate, fan, bound, min_sent = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
s = [p for p in r.get("series", []) if p.get("messages_sent", 0) > min_sent]
s = s[1:-1] or s
med = statistics.median([p["messages_delivered"] for p in s]) if s else 0
print(int(med))
exp = r.get("messages_expected") or r.get("messages_sent", 0)
ok = med >= 0.9 * rate * fan and exp > 0 and r.get("messages_lost", 0) <= 0.02 * exp and r["latency_ms"]["p99"] <= bound
sys.exit(0 if ok else 1)
' "$1" "$2" "${3:-1}" "${4:-1000}" "${5:-0}"
}
