#!/usr/bin/env bash
# Regenerates the keepalived test vectors in this directory from a real keepalived.
#
# For each scenario it builds a private lab of three network namespaces (a bridge namespace
# and two hosts, veths created directly inside them, documentation addresses only), runs two
# keepalived instances (Debian's /usr/sbin/keepalived, config, pid files and logs in a temp
# dir, nothing under /etc or /run), captures VRRP on the bridge with tcpdump, and writes the
# last advertisement the master sent as one line of hex to SCENARIO.hex (with the whole
# capture's summary in SCENARIO.txt). Everything is torn down on exit, also on failure.
#
# Needs root, keepalived, tcpdump, iproute2 and python3. Usage:
#   sudo crates/vrrp-packet/tests/vectors/capture.sh [SCENARIO...]
# Scenarios: v2-noauth v2-pass v3-ipv4-50ms v3-ipv6 v3-unicast (default: all).
set -euo pipefail

# VECTORS_OUT redirects the output (the live interop test writes to a temp dir).
OUT="${VECTORS_OUT:-$(cd "$(dirname "$0")" && pwd)}"
KEEPALIVED="${KEEPALIVED:-/usr/sbin/keepalived}"
CAPTURE_SECS="${CAPTURE_SECS:-6}"
TAG="vc$$"
WORK="$(mktemp -d "/tmp/vrrp-capture-$TAG.XXXXXX")"
PIDS=()
NSES=()

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
    for ns in "${NSES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    NSES=()
}
trap 'cleanup; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# lab N: namespaces ${TAG}bN (bridge), ${TAG}aN and ${TAG}cN (hosts), host links eth0.
lab() {
    local n="$1"
    BR="${TAG}b$n" A="${TAG}a$n" B="${TAG}c$n"
    for ns in "$BR" "$A" "$B"; do
        ip netns add "$ns"
        NSES+=("$ns")
        # Addresses usable at once: no duplicate address detection inside the lab.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
        ip -n "$ns" link set lo up
    done
    ip -n "$BR" link add br0 type bridge
    ip -n "$BR" link set br0 type bridge mcast_snooping 0
    ip -n "$BR" link set br0 up
    ip link add eth0 netns "$A" type veth peer name pa netns "$BR"
    ip link add eth0 netns "$B" type veth peer name pb netns "$BR"
    for p in pa pb; do
        ip -n "$BR" link set "$p" master br0
        ip -n "$BR" link set "$p" up
    done
    ip -n "$A" addr add 192.0.2.11/24 dev eth0
    ip -n "$B" addr add 192.0.2.12/24 dev eth0
    ip -n "$A" addr add 2001:db8::11/64 dev eth0
    ip -n "$B" addr add 2001:db8::12/64 dev eth0
    # Fixed MACs, so that the link-local addresses (and the vectors) are reproducible.
    ip -n "$A" link set eth0 address 02:00:00:00:00:11
    ip -n "$B" link set eth0 address 02:00:00:00:00:12
    ip -n "$A" link set eth0 up
    ip -n "$B" link set eth0 up
}

# conf NAME PRIORITY STATE BODY: writes $WORK/NAME.conf with one vrrp_instance.
conf() {
    local name="$1" prio="$2" state="$3" body="$4"
    cat >"$WORK/$name.conf" <<EOF
global_defs {
    router_id $name
    script_user root
    enable_script_security
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 1
}
vrrp_instance VI_$name {
    interface eth0
    state $state
    priority $prio
$body
}
EOF
}

start_keepalived() {
    local ns="$1" name="$2"
    ip netns exec "$ns" "$KEEPALIVED" -P -n -l -D -G \
        -f "$WORK/$name.conf" -p "$WORK/$name.pid" -r "$WORK/$name.vrrp.pid" \
        -i "$name" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
}

# scenario NAME BODY_A BODY_B: runs A (priority 150, MASTER) and B (100, BACKUP), captures,
# writes NAME.hex and NAME.txt.
scenario() {
    local name="$1" body_a="$2" body_b="$3"
    echo "== $name"
    lab "${#NSES[@]}"
    conf "${name}-a" 150 MASTER "$body_a"
    conf "${name}-b" 100 BACKUP "$body_b"
    local pcap="$WORK/$name.pcap"
    ip netns exec "$BR" tcpdump -i br0 -U -s 0 -w "$pcap" 'ip proto 112 or ip6 proto 112' \
        2>"$WORK/$name.tcpdump.log" &
    PIDS+=("$!")
    sleep 0.5
    start_keepalived "$A" "${name}-a"
    start_keepalived "$B" "${name}-b"
    sleep "$CAPTURE_SECS"
    cleanup
    # The last frame whose IP source is host A's: a steady-state advert of the master.
    python3 - "$pcap" "$OUT/$name.hex" "$OUT/$name.txt" "$name" <<'PY'
import struct, sys
pcap, hex_out, txt_out, name = sys.argv[1:5]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
link = struct.unpack(endian + "I", data[20:24])[0]
assert link == 1, f"link type {link} is not Ethernet"
frames, off = [], 24
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
    frames.append(data[off + 16: off + 16 + incl])
    off += 16 + incl
lines = []
from_a = []
for i, f in enumerate(frames):
    et = struct.unpack(">H", f[12:14])[0]
    ip = f[14:]
    if et == 0x0800:
        s, d = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        ihl = (ip[0] & 0xf) * 4
        v = ip[ihl:]
    else:
        import ipaddress
        s, d = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        v = ip[40:]
    lines.append(f"{i}: {s} > {d} len {len(f)} vrrp ver {v[0] >> 4} vrid {v[1]} prio {v[2]} count {v[3]}")
    # Host A runs priority 150; its priority-0 advert on shutdown is not pinned.
    if v[2] == 150:
        from_a.append(f)
assert from_a, f"{name}: no advertisement from host A captured"
with open(hex_out, "w") as fh:
    fh.write(from_a[-1].hex() + "\n")
with open(txt_out, "w") as fh:
    fh.write(f"# {name}: {len(frames)} VRRP frames captured on the lab bridge\n")
    shown = lines if len(lines) <= 12 else lines[:10] + [f"... {len(lines) - 11} more ...", lines[-1]]
    fh.write("\n".join(shown) + "\n")
print(f"{name}: {len(frames)} frames, pinned frame {len(from_a[-1])} bytes")
PY
}

ALL=(v2-noauth v2-pass v3-ipv4-50ms v3-ipv6 v3-unicast)
WANT=("$@")
[ ${#WANT[@]} -eq 0 ] && WANT=("${ALL[@]}")

for s in "${WANT[@]}"; do
    case "$s" in
    v2-noauth)
        body='    virtual_router_id 51
    version 2
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }'
        scenario "$s" "$body" "$body"
        ;;
    v2-pass)
        body='    virtual_router_id 52
    version 2
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1234abcd
    }
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.101/24
    }'
        scenario "$s" "$body" "$body"
        ;;
    v3-ipv4-50ms)
        body='    virtual_router_id 53
    version 3
    advert_int 0.05
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.101/24
        192.0.2.102/24
    }'
        scenario "$s" "$body" "$body"
        ;;
    v3-ipv6)
        # A global VIP listed before a link-local one: the capture shows whether keepalived
        # keeps the configured order (RFC 9568 erratum 8300 wants the link-local one first).
        body='    virtual_router_id 54
    version 3
    advert_int 1
    virtual_ipaddress {
        2001:db8::100/64
        fe80::54/64
    }'
        scenario "$s" "$body" "$body"
        ;;
    v3-unicast)
        body_a='    virtual_router_id 55
    version 3
    advert_int 1
    unicast_src_ip 192.0.2.11
    unicast_peer {
        192.0.2.12
    }
    virtual_ipaddress {
        192.0.2.100/24
    }'
        body_b='    virtual_router_id 55
    version 3
    advert_int 1
    unicast_src_ip 192.0.2.12
    unicast_peer {
        192.0.2.11
    }
    virtual_ipaddress {
        192.0.2.100/24
    }'
        scenario "$s" "$body_a" "$body_b"
        ;;
    *)
        echo "unknown scenario $s (known: ${ALL[*]})" >&2
        exit 2
        ;;
    esac
done
