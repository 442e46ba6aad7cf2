# bench/lib/common.sh: the helpers shared by the benchmark scripts in bench/ (sourced, not run).
#
# Gives: log/die/have/calc/fmt/median/max, json_field, port picking, /proc helpers (CPU ticks,
# descendants, alive, wait_gone), `timed`, the run directory, a private nginx on 127.0.0.1, the
# local cluster (start, readiness wait, stop) and the cleanup trap that stops everything started
# here by pid, also on failure or Ctrl-C. A script adds its own cleanup with `on_cleanup <function>`.
#
# The script that sources this file sets `set -euo pipefail` first.

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_LIB_DIR/../.." && pwd)"
OUT="$ROOT/bench/out"
STOP_TIMEOUT=120 # the launcher stops workers, api, Kafka and PostgreSQL in order; 20 s grace each

# ---------------------------------------------------------------- small helpers

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
now_ns() { date +%s%N; }
# Arithmetic on decimals: calc '<awk expression>' (variables passed as -v would be overkill here).
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, x }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -n 1; }
# require_int NAME VALUE: dies unless VALUE is a positive integer.
require_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer; got '$2'"; }

# The 1-minute load average before the script adds its own: other work on the machine makes the
# figures noisy, so it goes into the output and results.md.
LOAD0="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# JSON field of the document on stdin, as text (objects as JSON); empty if absent or null.
json_field() {
  if have jq; then
    jq -r --arg f "$1" '.[$f] // empty | if type == "object" or type == "array" then tojson else tostring end'
  else
    python3 -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
if v is not None:
    print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
  fi
}

# ---------------------------------------------------------------- ports

port_free() {
  if have python3; then
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
EOF
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

TAKEN=" "
# pick_port VAR [pair|N]: sets VAR to a free port not handed out before. With "pair" the next port
# is free too (Kafka's controller); with a number N, the N ports from VAR on are all free (workers'
# health ports: base, base + 1, ...).
pick_port() {
  local p tries=0 n=1 k ok
  [[ "${2:-}" == pair ]] && n=2
  [[ "${2:-}" =~ ^[0-9]+$ ]] && n="$2"
  while ((tries++ < 200)); do
    p=$((20000 + RANDOM % 40000))
    ok=1
    for ((k = 0; k < n; k++)); do
      if [[ "$TAKEN" == *" $((p + k)) "* ]] || ! port_free $((p + k)); then
        ok=0
        break
      fi
    done
    ((ok)) || continue
    for ((k = 0; k < n; k++)); do TAKEN+="$((p + k)) "; done
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found on 127.0.0.1"
}

# ---------------------------------------------------------------- processes (/proc)

# Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
# 1 state, 2 ppid, ..., 12 utime, 13 stime. Empty if the process is gone.
stat_fields() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  echo "${s##*) }"
}

# utime + stime of a process, in clock ticks; with "split": "utime stime".
cpu_ticks() {
  local -a f
  read -r -a f <<<"$(stat_fields "$1")"
  if [[ "${2:-}" == split ]]; then
    echo "${f[11]:-0} ${f[12]:-0}"
  else
    echo $((${f[11]:-0} + ${f[12]:-0}))
  fi
}

# Busy and total CPU ticks of the whole machine (all cores), from /proc/stat: "busy total".
machine_ticks() {
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# True while the process exists and is not a zombie.
alive() {
  local st
  st="$(stat_fields "$1")" || return 1
  [[ -n "$st" && "${st:0:1}" != Z ]]
}

# All descendants of a pid, found by walking /proc.
descendants() {
  local f rest pid
  local -a fields
  declare -A kids=()
  for f in /proc/[0-9]*/stat; do
    { read -r rest <"$f"; } 2>/dev/null || continue
    pid="${f#/proc/}"
    pid="${pid%/stat}"
    read -r -a fields <<<"${rest##*) }"
    kids[${fields[1]}]+="$pid "
  done
  local queue=("$1") out=() p c
  while ((${#queue[@]})); do
    p="${queue[0]}"
    queue=("${queue[@]:1}")
    for c in ${kids[$p]:-}; do
      out+=("$c")
      queue+=("$c")
    done
  done
  echo "${out[@]:-}"
}

cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# Waits up to $2 seconds for pid $1 to exit; true if it did.
wait_gone() {
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
  return 0
}

if [[ -x /usr/bin/time ]]; then TIMER=gnu; else TIMER=bash; fi

# timed FILE command...: runs the command; writes "<wall s> <user+sys CPU s>" to FILE. Wall from our
# own clock.
timed() {
  local out="$1" t0 t1 cpu
  shift
  t0="$(now_ns)"
  local rc=0
  if [[ "$TIMER" == gnu ]]; then
    /usr/bin/time -f '%U %S' -o "$out.cpu" "$@" || rc=$?
  else
    local TIMEFORMAT='%U %S'
    { time "$@" 2>/dev/null; } 2>"$out.cpu" || rc=$?
  fi
  t1="$(now_ns)"
  cpu="$(tail -n 1 "$out.cpu" | awk '{ print $1 + $2 }')"
  rm -f "$out.cpu"
  echo "$(calc "($t1 - $t0) / 1e9") $cpu" >"$out"
  return "$rc"
}

# ---------------------------------------------------------------- cleanup

NGINX_PID=""
LAUNCHER_PID=""
RUN_DIR=""
DATA_DIR=""
CLEANUP_HOOKS=()

# on_cleanup FUNCTION: runs FUNCTION first thing on exit (before the cluster and nginx stop).
on_cleanup() { CLEANUP_HOOKS+=("$1"); }

stop_cluster() {
  local p f family
  if [[ -n "$LAUNCHER_PID" ]] && alive "$LAUNCHER_PID"; then
    family="$(descendants "$LAUNCHER_PID")"
    log "stopping the cluster (launcher pid $LAUNCHER_PID) ..."
    kill -TERM "$LAUNCHER_PID" 2>/dev/null
    if ! wait_gone "$LAUNCHER_PID" "$STOP_TIMEOUT"; then
      log "the launcher did not stop within ${STOP_TIMEOUT} s; killing it (pid $LAUNCHER_PID)"
      kill -KILL "$LAUNCHER_PID" 2>/dev/null
    fi
    wait "$LAUNCHER_PID" 2>/dev/null
    # Whatever it started and left behind (e.g. a build it was running, or services after a KILL).
    for p in $family; do
      if alive "$p"; then
        log "left running by the launcher: pid $p ($(cmdline "$p" | cut -c1-100)); stopping it"
        kill -TERM "$p" 2>/dev/null
        wait_gone "$p" 15 || kill -KILL "$p" 2>/dev/null
      fi
    done
  fi
  LAUNCHER_PID=""
  # PostgreSQL runs detached (pg_ctl), so it is no descendant: find it by its data directory.
  if [[ -n "$DATA_DIR" ]]; then
    for f in /proc/[0-9]*/cmdline; do
      p="${f#/proc/}"
      p="${p%/cmdline}"
      [[ "$p" == "$$" ]] && continue
      if [[ "$(cmdline "$p")" == *"$DATA_DIR/"* ]]; then
        log "still running on the bench data directory: pid $p ($(cmdline "$p" | cut -c1-100)); stopping it"
        kill -INT "$p" 2>/dev/null
        wait_gone "$p" 30 || kill -KILL "$p" 2>/dev/null
      fi
    done
  fi
}

cleanup() {
  local rc=$? h
  set +e
  trap - EXIT INT TERM
  for h in "${CLEANUP_HOOKS[@]}"; do "$h"; done
  stop_cluster
  if [[ -n "$DATA_DIR" ]]; then
    if [[ "${BENCH_KEEP_DATA:-0}" != 1 ]]; then
      rm -rf "$DATA_DIR/postgres" "$DATA_DIR/kafka" "$DATA_DIR/objects"
    else
      rm -rf "$DATA_DIR/objects"
    fi
  fi
  if [[ -n "$NGINX_PID" ]] && alive "$NGINX_PID"; then
    kill -TERM "$NGINX_PID" 2>/dev/null
    wait_gone "$NGINX_PID" 10 || kill -KILL "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
  fi
  [[ -n "$RUN_DIR" ]] && log "logs of this run: $RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools, run directory

# need_nginx_curl: sets NGINX; installs nginx (and curl) with apt-get when missing and run as root.
need_nginx_curl() {
  local pkg=nginx-light
  NGINX="$(command -v nginx || true)"
  [[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
  if [[ -z "$NGINX" ]] || ! have curl; then
    ((EUID == 0)) && have apt-get || die "nginx and curl are needed; install them (Debian: apt-get install nginx-light curl)"
    apt-get update -qq
    apt-cache policy nginx-light 2>/dev/null | grep -q 'Candidate: [0-9]' || pkg=nginx
    log "installing $pkg and curl ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" curl >/dev/null
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    [[ -x "$NGINX" ]] || die "nginx is still missing after installing $pkg"
  fi
}

# try_apt_install PACKAGE: installs it with apt-get when run as root and apt works; never fails.
try_apt_install() {
  ((EUID == 0)) && have apt-get || return 1
  log "installing $1 with apt-get ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; } >/dev/null 2>&1
}

need_cluster_tools() {
  have jq || have python3 || die "jq or python3 is needed to read JSON"
  have sha256sum || die "sha256sum is needed"
  [[ -x "$ROOT/deploy/local/start" ]] || die "$ROOT/deploy/local/start is missing"
}

# new_run_dir NAME: RUN_DIR=bench/out/runs/<date>-<NAME>-<pid>, DATA_DIR=$RUN_DIR/data.
new_run_dir() {
  mkdir -p "$OUT"
  RUN_DIR="$OUT/runs/$(date +%Y%m%d-%H%M%S)-${1:+$1-}$$"
  DATA_DIR="$RUN_DIR/data"
  mkdir -p "$RUN_DIR"
}

# ---------------------------------------------------------------- nginx

# start_nginx ROOT LOCATIONS: a private nginx (one worker process, sendfile, no access log) on a free
# port of 127.0.0.1 serving ROOT, with the given location blocks (nginx syntax); sets NGINX_PORT,
# NGINX_PID and NGINX_BASE (http://127.0.0.1:<port>). Waits until PROBE_PATH (default /) answers 200.
start_nginx() {
  local root="$1" locations="$2" probe="${3:-/}" ngx="$RUN_DIR/nginx" i
  pick_port NGINX_PORT
  mkdir -p "$ngx/tmp"
  {
    echo "daemon off;"
    echo "worker_processes 1;"
    ((EUID == 0)) && echo "user $(id -un) $(id -gn);" # else workers run as nobody and cannot read the file
    echo "pid $ngx/nginx.pid;"
    echo "error_log $ngx/error.log warn;"
    echo "events { worker_connections 1024; }"
    cat <<EOF
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path $ngx/tmp/body;
  proxy_temp_path $ngx/tmp/proxy;
  fastcgi_temp_path $ngx/tmp/fastcgi;
  uwsgi_temp_path $ngx/tmp/uwsgi;
  scgi_temp_path $ngx/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $root;
$locations
    location / { return 404; }
  }
}
EOF
  } >"$ngx/nginx.conf"
  "$NGINX" -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" >"$ngx/stdout.log" 2>&1 &
  NGINX_PID=$!
  NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
  for ((i = 0; i < 100; i++)); do
    alive "$NGINX_PID" || die "nginx exited: $(cat "$ngx/error.log" "$ngx/stdout.log" 2>/dev/null | tail -n 5)"
    [[ "$(curl -s --noproxy '*' -o /dev/null -I -w '%{http_code}' "$NGINX_BASE$probe")" == 200 ]] && break
    sleep 0.1
  done
  ((i < 100)) || die "nginx did not answer on $NGINX_BASE$probe"
  log "nginx (pid $NGINX_PID) serves $NGINX_BASE"
}

# ---------------------------------------------------------------- the local cluster

http_code() { curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true; }

# start_cluster WORKERS [VAR=value ...]: runs deploy/local/start in the background with its data in
# $DATA_DIR, on free ports, with WORKERS workers and the given extra environment; waits (up to
# $START_TIMEOUT s) until the api and every worker are ready. Sets API, API_PORT, KEY,
# LAUNCHER_PID, API_PID and WORKER_PIDS (array).
start_cluster() {
  local workers="$1" what p i
  shift
  pick_port API_PORT
  pick_port WORKER_PORT "$workers"
  pick_port KAFKA_PORT pair
  pick_port DB_PORT
  KEY="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  API="http://127.0.0.1:$API_PORT"
  log "starting the local cluster ($workers worker(s); api $API_PORT, worker health $WORKER_PORT.., kafka $KAFKA_PORT, db $DB_PORT; data $DATA_DIR) ..."
  (
    cd "$ROOT"
    export TRANSFER_DATA_DIR="$DATA_DIR" TRANSFER_API_PORT="$API_PORT" TRANSFER_WORKER_BASE_PORT="$WORKER_PORT" \
      TRANSFER_KAFKA_PORT="$KAFKA_PORT" TRANSFER_DB_PORT="$DB_PORT" TRANSFER_WORKERS="$workers" TRANSFER_API_KEY="$KEY"
    for p in "$@"; do export "${p?}"; done
    exec ./deploy/local/start
  ) >"$RUN_DIR/launcher.out" 2>&1 </dev/null &
  LAUNCHER_PID=$!

  local deadline=$((SECONDS + START_TIMEOUT))
  local -a checks=("api-service:$API_PORT")
  for ((i = 0; i < workers; i++)); do checks+=("worker-$((i + 1)):$((WORKER_PORT + i))"); done
  for what in "${checks[@]}"; do
    # The launcher starts the api first and the workers once the api is ready: wait for all.
    until [[ "$(http_code "http://127.0.0.1:${what#*:}/q/health/ready")" == 200 ]]; do
      if ! alive "$LAUNCHER_PID"; then
        tail -n 30 "$RUN_DIR/launcher.out" >&2
        die "the launcher exited before ${what%%:*} was ready (output above; all in $RUN_DIR/launcher.out)"
      fi
      if ((SECONDS > deadline)); then
        tail -n 30 "$RUN_DIR/launcher.out" >&2
        die "${what%%:*} was not ready within $START_TIMEOUT s (BENCH_START_TIMEOUT)"
      fi
      sleep 0.5
    done
  done
  API_PID=""
  WORKER_PIDS=()
  for p in $(descendants "$LAUNCHER_PID"); do
    [[ "$(readlink "/proc/$p/exe" 2>/dev/null)" == */java ]] || continue
    case "$(cmdline "$p")" in
      *worker-service*) WORKER_PIDS+=("$p") ;;
      *api-service*) API_PID="$p" ;;
    esac
  done
  ((${#WORKER_PIDS[@]} == workers)) ||
    die "found ${#WORKER_PIDS[@]} worker JVM(s) among the launcher's descendants, expected $workers"
  log "cluster ready (launcher pid $LAUNCHER_PID, api pid ${API_PID:-?}, worker pid(s) ${WORKER_PIDS[*]})"
}

# api [curl options] URL: curl with the bench key, JSON, 127.0.0.1 without a proxy.
api() {
  curl -s --noproxy '*' --max-time 10 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"
}

# ---------------------------------------------------------------- results

# commit_stamp: short commit of the tree, "-dirty" when tracked files have changes.
commit_stamp() {
  local c
  c="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then c+="-dirty"; fi
  echo "$c"
}

# append_result BENCHMARK DATE COMMIT RUNS HEADS_ARRAY_NAME ROW_ARRAY_NAME: one Markdown row in
# bench/out/results.md. One file for all the scripts in bench/: each row names its benchmark, and a
# table header is written again whenever the previous row came from another benchmark (or other
# columns), so every table stays valid Markdown.
append_result() {
  local name="$1" stamp="$2" commit="$3" runs="$4"
  local -n _heads="$5" _row="$6"
  local results="$OUT/results.md" header
  header="| benchmark | date (UTC) | commit | runs | $(printf '%s | ' "${_heads[@]}")"
  header="${header% }"
  [[ -s "$results" ]] || printf '# bench results (appended by the scripts in bench/)\n' >"$results"
  if [[ "$(grep '^| ' "$results" | grep -v '^|---' | tail -n 1 | cut -d'|' -f2)" != " $name " ]] ||
    [[ "$(grep '^| benchmark ' "$results" | tail -n 1)" != "$header" ]]; then
    {
      echo
      echo "$header"
      echo "|---|---|---|---:|$(printf -- '---:|%.0s' "${_heads[@]}")"
    } >>"$results"
  fi
  echo "| $name | $stamp | $commit | $runs | $(printf '%s | ' "${_row[@]}")" | sed 's/ $//' >>"$results"
  echo "  (appended to $results)"
}
