#!/usr/bin/env bash
# xdpnat demo: two tenant namespaces get stable NAT addresses from an XDP
# gateway; an IP-ACL protected nginx lets them in and keeps an un-NATed pod out.
#
#   pod-a (team-a) 198.18.1.2  --\
#   pod-b (team-b) 198.18.1.6  ---+-- gw [xdpnatd, XDP on every port] -- srv 198.18.2.2 (nginx: allow NAT pool only)
#   pod-c (team-c) 198.18.1.10 --/
#
# Only addresses of 198.18.0.0/15; every namespace is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

say() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

say "Installing what the demo needs (if missing) and building"
bash scripts/deps.sh nginx-light iperf3
swift build 2>&1 | tail -1
BIN="$(swift build --show-bin-path)"

P="xdn$$"
WORK="/run/xdpnat-demo-$$"
DAEMON_PID=""
cleanup() {
  set +e
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  for n in pod-a pod-b pod-c gw srv; do
    ip netns pids "$P-$n" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$P-$n" 2>/dev/null
  done
  umount "$WORK/bpf" 2>/dev/null
  rm -rf "$WORK"
  echo "cleaned up namespaces $P-*"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Creating namespaces: three pods, a NAT gateway, a protected server"
for n in pod-a pod-b pod-c gw srv; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
i=0
for t in a b c; do
  gwip="198.18.1.$((i * 4 + 1))"; podip="198.18.1.$((i * 4 + 2))"
  ip -n "$P-pod-$t" link add eth0 type veth peer name gw$t netns "$P-gw"
  ip -n "$P-pod-$t" addr add "$podip/30" dev eth0
  ip -n "$P-gw" addr add "$gwip/30" dev gw$t
  ip -n "$P-pod-$t" link set eth0 up; ip -n "$P-gw" link set gw$t up
  ip -n "$P-pod-$t" route add default via "$gwip"
  # XDP-redirected frames need GRO on the receiving veth; pods send full checksums like a NIC would
  ip netns exec "$P-pod-$t" ethtool -K eth0 gro on tx off >/dev/null
  i=$((i + 1))
done
ip -n "$P-gw" link add ext0 type veth peer name eth0 netns "$P-srv"
ip -n "$P-gw" addr add 198.18.2.1/24 dev ext0
ip -n "$P-srv" addr add 198.18.2.2/24 dev eth0
ip -n "$P-gw" link set ext0 up; ip -n "$P-srv" link set eth0 up
ip netns exec "$P-srv" ethtool -K eth0 gro on tx off >/dev/null
# upstream routes the NAT pool to the gateway; pods' own addresses are routed too, so
# traffic that escapes NAT reaches the server and is refused by its ACL
ip -n "$P-srv" route add 198.18.100.0/24 via 198.18.2.1
ip -n "$P-srv" route add 198.18.1.0/24 via 198.18.2.1
ip netns exec "$P-gw" sysctl -qw net.ipv4.ip_forward=1

say "Starting nginx on the server: only the NAT pool 198.18.100.0/24 is allowed"
mkdir -p "$WORK/nginx/www" "$WORK/manifests" "$WORK/state" "$WORK/bpf"
echo 'hello <!--# echo var="remote_addr" -->' > "$WORK/nginx/www/hello.txt"
cat > "$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
  access_log $WORK/nginx/access.log;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server {
    listen 198.18.2.2:80;
    root $WORK/nginx/www;
    location / {
      # access (allow/deny) runs before content; a 'return' would bypass it
      allow 198.18.100.0/24;
      deny all;
      ssi on;
      ssi_types text/plain;
      default_type text/plain;
      index hello.txt;
    }
  }
}
NGX
ip netns exec "$P-srv" nginx -c "$WORK/nginx/nginx.conf"
ip netns exec "$P-srv" iperf3 -s -D -B 198.18.2.2 --logfile "$WORK/iperf3.log"

say "Writing manifests: a NATPool, EgressNATs for team-a and team-b, the pods"
cat > "$WORK/manifests/pool.yaml" <<'YAML'
apiVersion: xdpnat.io/v1alpha1
kind: NATPool
metadata: {name: tenants}
spec:
  addresses: ["198.18.100.1", "198.18.100.2", "198.18.100.3"]
  allocation: Exclusive
  namespaceSelector: {matchLabels: {egress: stable}}
YAML
cat > "$WORK/manifests/tenants.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {egress: stable}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {egress: stable}}
---
apiVersion: xdpnat.io/v1alpha1
kind: EgressNAT
metadata: {name: to-partners, namespace: team-a}
spec: {podSelector: {matchLabels: {app: api}}, destinations: ["198.18.2.0/24"]}
---
apiVersion: xdpnat.io/v1alpha1
kind: EgressNAT
metadata: {name: to-partners, namespace: team-b}
spec: {destinations: ["198.18.2.0/24"]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f, namespace: team-a, labels: {app: api}}
status: {podIP: 198.18.1.2, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: worker-0, namespace: team-b, labels: {app: worker}}
status: {podIP: 198.18.1.6, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: team-c}
status: {podIP: 198.18.1.10, phase: Running}
YAML
"$BIN/xdpnat" validate -f "$WORK/manifests"

say "Starting xdpnatd on the gateway (XDP on gwa gwb gwc ext0)"
mount -t bpf bpf "$WORK/bpf"
ip netns exec "$P-gw" "$BIN/xdpnatd" run --manifests "$WORK/manifests" --state-dir "$WORK/state" \
  --pin-dir "$WORK/bpf/xdpnat" --interface gwa --interface gwb --interface gwc --interface ext0 \
  --gc-interval 2 > "$WORK/xdpnatd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 50); do [ -s "$WORK/state/status.json" ] && break; sleep 0.1; done
cat "$WORK/xdpnatd.log"
CLI=(ip netns exec "$P-gw" "$BIN/xdpnat")
LOC=(--pin-dir "$WORK/bpf/xdpnat" --state-dir "$WORK/state")

say "curl from each pod to the protected server"
for t in a b c; do
  printf 'pod-%s: ' "$t"
  ip netns exec "$P-pod-$t" curl -s -m 3 -o /dev/null -w '%{http_code} ' http://198.18.2.2/ || true
  ip netns exec "$P-pod-$t" curl -s -m 3 http://198.18.2.2/ | head -c 60 | tr -d '\n' || true
  echo
done

say "A short iperf3 run from team-a's pod through the NAT"
ip netns exec "$P-pod-a" iperf3 -c 198.18.2.2 -t 2 -f m | grep -E "sender|receiver"
ip netns exec "$P-pod-b" ping -c 2 -q 198.18.2.2 | tail -2

say "What the server saw (nginx access log)"
awk '{print $1, $9}' "$WORK/nginx/access.log" | sort | uniq -c

say "xdpnat ct list"
"${CLI[@]}" ct list "${LOC[@]}"
say "xdpnat ct list -o conntrack --proto tcp --limit 3"
"${CLI[@]}" ct list "${LOC[@]}" -o conntrack --proto tcp --limit 3
say "xdpnat ct stats"
"${CLI[@]}" ct stats "${LOC[@]}"
say "xdpnat status"
"${CLI[@]}" status "${LOC[@]}"
say "xdpnat whois 198.18.100.1"
"${CLI[@]}" whois 198.18.100.1 "${LOC[@]}" | head -8

say "Done: team-a and team-b reached the server from their own stable NAT addresses; team-c was denied"
