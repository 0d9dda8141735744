#!/usr/bin/env bash
# kv_store.sh: a local Kvstore cluster on this machine.
#   ./kv_store.sh start    3 shards, each a master and a replica redis-server (ports 6371-6376),
#                          and the proxy on 7400 (admin API on 7500); waits until all answer
#   ./kv_store.sh start --proxies N
#                          the same redis-servers, plus one etcd on 127.0.0.1:2379 (peer 2380) and
#                          a fleet of N proxies (1-3) on 7400.. (admin 7500..) sharing one topology
#                          through it (config key coordination.etcd; see README "A fleet of proxies")
#   ./kv_store.sh stop     stops exactly what start started (by the pid files it wrote)
#   ./kv_store.sh status   shows each process
# In a fresh clone, start first installs what is missing (redis-server via apt-get when root,
# npm dependencies, the build). In the release tarball everything is already there.
# KVSTORE_NOTIFY_KEYSPACE_EVENTS=KEA ./kv_store.sh start: every redis-server raises keyspace
# notifications (notify-keyspace-events), which one PSUBSCRIBE __keyspace@0__:* through the proxy sees.
# Runtime files (pid files, logs, redis dirs, topology state) go to .kvstore-local/ next to this
# script, or to $KVSTORE_LOCAL_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${KVSTORE_LOCAL_DIR:-$ROOT/.kvstore-local}"
CONFIG="${KVSTORE_CONFIG:-$ROOT/samples/kvstore.yaml}"
PROXY_PORT=7400
ADMIN_PORT=7500
# shard name, master port, replica port (must match samples/kvstore.yaml)
SHARDS=("s1 6371 6372" "s2 6373 6374" "s3 6375 6376")
WAIT_SECONDS="${KVSTORE_START_TIMEOUT:-60}"
ETCD_PORT=2379
ETCD_PEER_PORT=2380
MAX_PROXIES=3
# proxies of this run: 0 = the single proxy (no etcd); N = a fleet (written to $RUN/proxies)
PROXIES=0

say() { printf '%s\n' "$*"; }
die() { printf 'kv_store.sh: %s\n' "$*" >&2; exit 1; }

kvstore_bin() {
  if [ -x "$ROOT/bin/kvstore" ]; then echo "$ROOT/bin/kvstore"; else echo "$ROOT/bin/kvstore.js"; fi
}

all_redis_ports() {
  local s
  for s in "${SHARDS[@]}"; do
    set -- $s
    echo "$2" "$3"
  done
}

# alive PID EXPECTED-WORD: the pid runs and its command line mentions EXPECTED-WORD (guards
# against a recycled pid belonging to something else)
alive() {
  local pid="$1" word="$2"
  [ -n "$pid" ] && running "$pid" || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$word"
}

# running PID: exists and is not a zombie (an exited daemon waits for init to reap it)
running() {
  local pid="$1" state
  kill -0 "$pid" 2>/dev/null || return 1
  state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 0
  [ "$state" != Z ]
}

# children_of PID: pids whose parent is PID (the proxy's workers)
children_of() {
  local stat p
  for stat in /proc/[0-9]*/stat; do
    p="$(sed -e 's/^.*) //' "$stat" 2>/dev/null | cut -d' ' -f2)" || continue
    [ "$p" = "$1" ] && basename "$(dirname "$stat")"
  done
  return 0
}

read_pid() { [ -f "$1" ] && tr -dc '0-9' <"$1" || true; }

port_busy() {
  # bash's /dev/tcp: succeeds when something accepts on the port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

replica_linked() { redis-cli -h 127.0.0.1 -p "$1" info replication 2>/dev/null | grep -q 'master_link_status:up'; }

redis_ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

ensure_installed() {
  if [ -f "$ROOT/tsconfig.json" ] && [ -d "$ROOT/src" ]; then
    # a source checkout: install and build what is missing
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
      KVSTORE_SKIP_TWEMPROXY=1 bash "$ROOT/scripts/install-deps.sh" || die "redis-server is required (see the message above)"
    fi
    command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (https://nodejs.org)"
    if [ ! -d "$ROOT/node_modules" ]; then
      say "installing npm dependencies (npm install) ..."
      (cd "$ROOT" && npm install --no-audit --no-fund) || die "npm install failed"
    fi
    if [ ! -f "$ROOT/dist/src/cli/main.js" ]; then
      say "building (npm run build) ..."
      (cd "$ROOT" && npm run build) || die "npm run build failed"
    fi
  else
    # the release tarball: everything is built; only redis-server and node come from the system
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
      if [ -f "$ROOT/scripts/install-deps.sh" ]; then
        KVSTORE_SKIP_TWEMPROXY=1 bash "$ROOT/scripts/install-deps.sh" || die "redis-server is required (see the message above)"
      else
        die "redis-server and redis-cli are required (Debian/Ubuntu: apt-get install redis-server redis-tools)"
      fi
    fi
    command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (https://nodejs.org)"
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is required (found $(node --version))"
}

start_redis() {
  local port="$1" master_port="${2:-}"
  local dir="$RUN/redis-$port"
  mkdir -p "$dir"
  local args=(--port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes
    --pidfile "$RUN/redis-$port.pid" --logfile "$dir/redis.log"
    --save "" --appendonly no --protected-mode yes --repl-diskless-sync-delay 0)
  [ -n "$master_port" ] && args+=(--replicaof 127.0.0.1 "$master_port")
  [ -n "${KVSTORE_NOTIFY_KEYSPACE_EVENTS:-}" ] && args+=(--notify-keyspace-events "$KVSTORE_NOTIFY_KEYSPACE_EVENTS")
  redis-server "${args[@]}" >/dev/null || return 1
}

stop_all() {
  local quiet="${1:-}" pid port
  # the proxies first (they drain their clients), then the redis-servers, then etcd
  local pidfile workers=() stopping_proxies=()
  for pidfile in "$RUN/kvstore.pid" "$RUN"/kvstore-[0-9]*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(read_pid "$pidfile")"
    if alive "$pid" kvstore; then
      workers+=($(children_of "$pid"))
      [ -n "$quiet" ] || say "stopping kvstore proxy (pid $pid) ..."
      kill -TERM "$pid" 2>/dev/null || true
      stopping_proxies+=("$pid")
    fi
  done
  for pid in "${stopping_proxies[@]}"; do
    wait_gone "$pid" 30 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  done
  # their workers exit with them; wait for any that are still draining
  local w
  for w in "${workers[@]}"; do wait_gone "$w" 10 || { kill -KILL "$w" 2>/dev/null || true; }; done
  rm -f "$RUN/kvstore.pid" "$RUN"/kvstore-[0-9]*.pid
  # remember the pids: redis-server deletes its pid file while it is still shutting down
  local stopping=()
  for port in $(all_redis_ports); do
    pid="$(read_pid "$RUN/redis-$port.pid")"
    if alive "$pid" redis-server; then
      [ -n "$quiet" ] || say "stopping redis-server :$port (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$pid")
    fi
  done
  for pid in "${stopping[@]}"; do
    wait_gone "$pid" 15 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  done
  for port in $(all_redis_ports); do rm -f "$RUN/redis-$port.pid"; done
  pid="$(read_pid "$RUN/etcd.pid")"
  if alive "$pid" etcd; then
    [ -n "$quiet" ] || say "stopping etcd :$ETCD_PORT (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 15 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  fi
  rm -f "$RUN/etcd.pid" "$RUN/proxies"
}

etcd_binary() { command -v etcd 2>/dev/null || { [ -x /usr/bin/etcd ] && echo /usr/bin/etcd; } || true; }

etcd_ready() {
  local pid
  pid="$(read_pid "$RUN/etcd.pid")"
  kill -0 "$pid" 2>/dev/null || return 2
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_PORT" --command-timeout=1s endpoint health >/dev/null 2>&1
}

start_etcd() {
  local bin
  bin="$(etcd_binary)"
  if [ -z "$bin" ] && [ -f "$ROOT/scripts/install-deps.sh" ]; then
    KVSTORE_SKIP_TWEMPROXY=1 bash "$ROOT/scripts/install-deps.sh" || true
    bin="$(etcd_binary)"
  fi
  [ -n "$bin" ] || die "etcd is required for --proxies (Debian: etcd-server etcd-client; bash scripts/install-deps.sh)"
  mkdir -p "$RUN/etcd"
  nohup "$bin" --name kvstore-local --data-dir "$RUN/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "kvstore-local=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --logger zap --log-outputs stderr >"$RUN/etcd/etcd.log" 2>&1 </dev/null &
  echo $! >"$RUN/etcd.pid"
  wait_for "etcd :$ETCD_PORT" etcd_ready || return 1
}

# start_proxy INDEX: proxy INDEX (1-based) of the fleet, or the single proxy (INDEX 0)
start_proxy() {
  local i="$1"
  if [ "$i" = 0 ]; then
    KVSTORE_STATE_DIR="${KVSTORE_STATE_DIR:-$RUN/state}" nohup node "$(kvstore_bin)" start -c "$CONFIG" >"$RUN/kvstore.log" 2>&1 </dev/null &
    echo $! >"$RUN/kvstore.pid"
    return 0
  fi
  KVSTORE_STATE_DIR="$RUN/state-$i" \
    KVSTORE_LISTEN_PORT=$((PROXY_PORT + i - 1)) KVSTORE_ADMIN_PORT=$((ADMIN_PORT + i - 1)) \
    KVSTORE_PROXY_ID="proxy-$i" KVSTORE_ETCD_ENDPOINTS="127.0.0.1:$ETCD_PORT" \
    nohup node "$(kvstore_bin)" start -c "$CONFIG" >"$RUN/kvstore-$i.log" 2>&1 </dev/null &
  echo $! >"$RUN/kvstore-$i.pid"
}

wait_gone() {
  local pid="$1" seconds="$2" i
  for ((i = 0; i < seconds * 10; i++)); do
    running "$pid" || return 0
    sleep 0.1
  done
  return 1
}

cmd_start() {
  ensure_installed
  mkdir -p "$RUN"
  # already running (our pid files, live processes)?
  local pid
  local pidfile
  for pidfile in "$RUN/kvstore.pid" "$RUN"/kvstore-[0-9]*.pid "$RUN/etcd.pid"; do
    [ -f "$pidfile" ] || continue
    pid="$(read_pid "$pidfile")"
    if alive "$pid" kvstore || alive "$pid" etcd; then die "already running (pid $pid); ./kv_store.sh status, or ./kv_store.sh stop first"; fi
  done
  # nothing else may hold our ports: we never touch processes we did not start
  local port busy=() ports=("$PROXY_PORT" "$ADMIN_PORT") i
  if [ "$PROXIES" -gt 0 ]; then
    ports=("$ETCD_PORT" "$ETCD_PEER_PORT")
    for ((i = 0; i < PROXIES; i++)); do ports+=($((PROXY_PORT + i)) $((ADMIN_PORT + i))); done
  fi
  for port in $(all_redis_ports) "${ports[@]}"; do
    if port_busy "$port"; then busy+=("$port"); fi
  done
  if [ ${#busy[@]} -gt 0 ]; then
    die "port(s) ${busy[*]} already in use by other processes; free them first (kv_store.sh does not stop what it did not start)"
  fi

  trap 'say "start failed; stopping what was started"; stop_all quiet; exit 1' ERR
  local s name mport rport
  for s in "${SHARDS[@]}"; do
    set -- $s
    name="$1" mport="$2" rport="$3"
    start_redis "$mport" || die "redis-server on $mport did not start (log: $RUN/redis-$mport/redis.log)"
    start_redis "$rport" "$mport" || die "redis-server on $rport did not start (log: $RUN/redis-$rport/redis.log)"
  done
  for port in $(all_redis_ports); do
    wait_for "redis-server :$port" redis_ping "$port" || { stop_all quiet; die "redis-server :$port does not answer (log: $RUN/redis-$port/redis.log)"; }
  done

  # replicas: wait (briefly) until they follow their master; not fatal, the proxy serves from masters
  for s in "${SHARDS[@]}"; do
    set -- $s
    wait_for "replica :$3 of :$2" replica_linked "$3" || say "warning: the replica on :$3 has not synced with :$2 yet (see $RUN/redis-$3/redis.log)"
  done

  if [ "$PROXIES" -gt 0 ]; then
    echo "$PROXIES" >"$RUN/proxies"
    start_etcd || { say "--- last lines of $RUN/etcd/etcd.log ---"; tail -n 20 "$RUN/etcd/etcd.log" || true; stop_all quiet; die "etcd did not come up"; }
    trap - ERR
    # the first proxy seeds the fleet's topology in etcd from the config; the others join it
    for ((i = 1; i <= PROXIES; i++)); do
      start_proxy "$i"
      if ! wait_for "kvstore proxy :$((PROXY_PORT + i - 1))" proxy_ready "$i"; then
        say "--- last lines of $RUN/kvstore-$i.log ---"
        tail -n 20 "$RUN/kvstore-$i.log" || true
        stop_all quiet
        die "proxy $i did not come up"
      fi
    done
    say ""
    say "Kvstore fleet is running: 3 shards (masters 6371 6373 6375, replicas 6372 6374 6376), etcd on 127.0.0.1:$ETCD_PORT,"
    say "  $PROXIES proxies on 127.0.0.1:$PROXY_PORT-$((PROXY_PORT + PROXIES - 1)) (admin $ADMIN_PORT-$((ADMIN_PORT + PROXIES - 1)))"
    say "  connect:   redis-cli -p $PROXY_PORT   (any of them)"
    say "  check:     $ROOT/test_all -p $((PROXY_PORT + PROXIES - 1))"
    say "  proxies:   $(kvstore_bin) ctl proxies"
    say "  logs:      $RUN/kvstore-N.log, $RUN/etcd/etcd.log"
    say "  stop:      $ROOT/kv_store.sh stop"
    return 0
  fi
  start_proxy 0
  trap - ERR
  if ! wait_for "kvstore proxy :$PROXY_PORT" proxy_ready; then
    say "--- last lines of $RUN/kvstore.log ---"
    tail -n 20 "$RUN/kvstore.log" || true
    stop_all quiet
    die "the proxy did not come up"
  fi
  say ""
  say "Kvstore is running: 3 shards (masters 6371 6373 6375, replicas 6372 6374 6376), proxy on 127.0.0.1:$PROXY_PORT"
  say "  connect:   redis-cli -p $PROXY_PORT"
  say "  check:     $ROOT/test_all -p $PROXY_PORT"
  say "  topology:  $(kvstore_bin) ctl topology      (admin API: http://127.0.0.1:$ADMIN_PORT/health)"
  say "  logs:      $RUN/kvstore.log"
  say "  stop:      $ROOT/kv_store.sh stop"
}

# proxy_ready [INDEX]: the single proxy (0, default) or proxy INDEX of the fleet answers
proxy_ready() {
  local i="${1:-0}" pid pidfile="$RUN/kvstore.pid" port="$PROXY_PORT" admin="$ADMIN_PORT"
  if [ "$i" != 0 ]; then pidfile="$RUN/kvstore-$i.pid" port=$((PROXY_PORT + i - 1)) admin=$((ADMIN_PORT + i - 1)); fi
  pid="$(read_pid "$pidfile")"
  # plain liveness: we started this pid a moment ago (it may not have exec'd node yet)
  kill -0 "$pid" 2>/dev/null || return 2
  redis_ping "$port" && port_busy "$admin"
}

# wait_for LABEL COMMAND ARGS...: retry until COMMAND succeeds (status 2 = give up now)
wait_for() {
  local label="$1" i rc
  shift
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    rc=0
    "$@" || rc=$?
    [ "$rc" = 0 ] && return 0
    [ "$rc" = 2 ] && { say "$label exited"; return 1; }
    sleep 0.1
  done
  say "$label did not answer within ${WAIT_SECONDS}s"
  return 1
}

cmd_stop() {
  if [ ! -d "$RUN" ]; then say "nothing to stop"; return 0; fi
  stop_all
  say "stopped"
}

cmd_status() {
  local all_up=0 s name mport rport pid role port state
  for s in "${SHARDS[@]}"; do
    set -- $s
    name="$1" mport="$2" rport="$3"
    for role in master replica; do
      if [ "$role" = master ]; then port="$mport"; else port="$rport"; fi
      pid="$(read_pid "$RUN/redis-$port.pid")"
      if alive "$pid" redis-server; then
        if redis_ping "$port"; then state="running"; else state="not answering"; all_up=1; fi
        printf '%-8s %-8s redis-server 127.0.0.1:%-5s pid %-7s %s\n' "$name" "$role" "$port" "$pid" "$state"
      else
        printf '%-8s %-8s redis-server 127.0.0.1:%-5s %-11s %s\n' "$name" "$role" "$port" "" "stopped"
        all_up=1
      fi
    done
  done
  local fleet i
  fleet="$(read_pid "$RUN/proxies")"
  if [ -n "$fleet" ]; then
    pid="$(read_pid "$RUN/etcd.pid")"
    if alive "$pid" etcd; then
      printf '%-8s %-8s etcd         127.0.0.1:%-5s pid %-7s %s\n' "etcd" "" "$ETCD_PORT" "$pid" "running"
    else
      printf '%-8s %-8s etcd         127.0.0.1:%-5s %-11s %s\n' "etcd" "" "$ETCD_PORT" "" "stopped"
      all_up=1
    fi
    for ((i = 1; i <= fleet; i++)); do
      pid="$(read_pid "$RUN/kvstore-$i.pid")" port=$((PROXY_PORT + i - 1))
      if alive "$pid" kvstore && redis_ping "$port"; then state="running"; else state="stopped or not answering"; all_up=1; fi
      printf '%-8s %-8s kvstore      127.0.0.1:%-5s pid %-7s %s (admin 127.0.0.1:%s)\n' "proxy-$i" "" "$port" "${pid:--}" "$state" $((ADMIN_PORT + i - 1))
    done
    return $all_up
  fi
  pid="$(read_pid "$RUN/kvstore.pid")"
  if alive "$pid" kvstore; then
    if redis_ping "$PROXY_PORT"; then state="running"; else state="not answering"; all_up=1; fi
    printf '%-8s %-8s kvstore      127.0.0.1:%-5s pid %-7s %s (admin 127.0.0.1:%s)\n' "proxy" "" "$PROXY_PORT" "$pid" "$state" "$ADMIN_PORT"
    local w
    for w in $(children_of "$pid"); do printf '%-8s %-8s kvstore worker                pid %s\n' "" "" "$w"; done
  else
    printf '%-8s %-8s kvstore      127.0.0.1:%-5s %-11s %s\n' "proxy" "" "$PROXY_PORT" "" "stopped"
    all_up=1
  fi
  return $all_up
}

# start options: --proxies N (a fleet through etcd)
parse_start_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --proxies) [ $# -ge 2 ] || die "--proxies needs a number (1-$MAX_PROXIES)"; PROXIES="$2"; shift 2 ;;
      --proxies=*) PROXIES="${1#--proxies=}"; shift ;;
      *) die "unknown option $1 (start [--proxies N])" ;;
    esac
  done
  [[ "$PROXIES" =~ ^[0-9]+$ ]] && [ "$PROXIES" -le "$MAX_PROXIES" ] || die "--proxies must be a number from 1 to $MAX_PROXIES"
}

case "${1:-}" in
  start) shift; parse_start_options "$@"; cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  *) say "usage: $0 start [--proxies N]|stop|status|restart"; exit 2 ;;
esac
