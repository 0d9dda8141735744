#!/usr/bin/env bash
# Installs the system pieces Kvstore runs on and is tested against: redis-server, redis-cli,
# redis-benchmark, redis-sentinel (Debian: redis-server, redis-tools, redis-sentinel), etcd and
# etcdctl for a fleet of proxies (Debian: etcd-server, etcd-client) and Twemproxy (Debian:
# nutcracker, for the benchmark). As root it uses apt-get; otherwise it says
# what to install. Safe to run again: it only installs what is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
if [ "${KVSTORE_SKIP_TWEMPROXY:-0}" != 1 ]; then
  command -v nutcracker >/dev/null 2>&1 || [ -x /usr/sbin/nutcracker ] || need+=(nutcracker)
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | awk 'NF && !seen[$0]++')

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "kvstore: installing ${need[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian's packages start a redis-server on 6379 (and etcd on 2379) as services where an init
  # system runs; Kvstore's tests do not use them (they start their own on free ports).
  exit 0
fi
echo "kvstore: missing ${need[*]}." >&2
echo "  Install them, e.g.: sudo apt-get install -y ${need[*]}" >&2
exit 1
