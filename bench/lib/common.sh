# shellcheck shell=bash
# bench/lib/common.sh: the helpers shared by the benchmark scripts in bench/ (sourced, not run).
#
# Gives: log/die/have/calc/fmt/median/max, json_field, port picking, /proc helpers (CPU ticks,
# descendants, alive, wait_gone, TCP connections), `timed`, the run directory, the cached test file,
# a private nginx on 127.0.0.1, the local cluster (build under the Maven lock, start, readiness wait,
# stop), a task poller, the cleanup trap that stops everything started here by pid, also on failure
# or Ctrl-C (a script adds its own cleanup with `on_cleanup <function>`), results, and the bench
# lock: sourcing this file waits for /tmp/transfer-bench.lock, so two benchmarks never run at once.
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
# (Read again once the bench lock is held: waiting for another benchmark does not count.)
# shellcheck disable=SC2034 # LOAD0, CLK_TCK: used by the scripts that source this file
LOAD0="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
# shellcheck disable=SC2034
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
# Listening ports come from below the kernel's ephemeral range (ip_local_port_range, 32768-60999
# here): a port in that range can be taken, between our check and the service's bind, by any
# outgoing connection on the machine (it happened: "Port ... seems to be in use").
PORT_LO=15000 PORT_HI=32000
if read -r _eph_lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((_eph_lo > 16000)); then
  PORT_HI=$((_eph_lo - 768))
elif [[ -n "${_eph_lo:-}" ]]; then
  PORT_LO=20000 PORT_HI=60000
fi
# pick_port VAR [pair|N]: sets VAR to a free port not handed out before. With "pair" the next port
# is free too (Kafka's controller); with a number N, the N ports from VAR on are all free (workers'
# health ports: base, base + 1, ...).
pick_port() {
  local p tries=0 n=1 k ok
  [[ "${2:-}" == pair ]] && n=2
  [[ "${2:-}" =~ ^[0-9]+$ ]] && n="$2"
  while ((tries++ < 200)); do
    p=$((PORT_LO + RANDOM % (PORT_HI - PORT_LO)))
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

# tree_ticks PID: CPU ticks of a process, its reaped children (cutime + cstime) and its live
# descendants (each with its own reaped children).
tree_ticks() {
  local p t=0
  local -a f
  for p in "$1" $(descendants "$1"); do
    read -r -a f <<<"$(stat_fields "$p")"
    t=$((t + ${f[11]:-0} + ${f[12]:-0} + ${f[13]:-0} + ${f[14]:-0}))
  done
  echo "$t"
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
  local dest="$1" t0 t1 cpu
  shift
  t0="$(now_ns)"
  local rc=0
  if [[ "$TIMER" == gnu ]]; then
    /usr/bin/time -f '%U %S' -o "$dest.cpu" "$@" || rc=$?
  else
    local TIMEFORMAT='%U %S'
    { time "$@" 2>/dev/null; } 2>"$dest.cpu" || rc=$?
  fi
  t1="$(now_ns)"
  cpu="$(tail -n 1 "$dest.cpu" | awk '{ print $1 + $2 }')"
  rm -f "$dest.cpu"
  echo "$(calc "($t1 - $t0) / 1e9") $cpu" >"$dest"
  return "$rc"
}

# tcp_established PORT: established TCP connections whose local end is 127.0.0.1:PORT (the server
# side of connections to a listener of ours), from /proc/net/tcp.
tcp_established() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v want="0100007F:$hex" '$2 == want && $4 == "01" { n++ } END { print n + 0 }' /proc/net/tcp 2>/dev/null || echo 0
}

# proc_status_kb PID FIELD: a "kB" field of /proc/PID/status (VmRSS, VmHWM) as a number; 0 if gone.
proc_status_kb() { awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# threads_of PID: the process's thread count (0 if gone).
threads_of() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# reset_hwm PID: resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0); false if it could not.
reset_hwm() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

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
    if ((EUID != 0)) || ! have apt-get; then
      die "nginx and curl are needed; install them (Debian: apt-get install nginx-light curl)"
    fi
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
  have psql || try_apt_install postgresql-client
  have psql || die "psql is needed to read the cluster's database counters (apt-get install postgresql-client)"
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

# start_nginx ROOT LOCATIONS [PROBE_PATH]: a private nginx (one worker process, sendfile, no access
# log) on a free port of 127.0.0.1 serving ROOT, with the given location blocks (nginx syntax); sets
# NGINX_PORT, NGINX_PID and NGINX_BASE (http://127.0.0.1:<port>). Waits until PROBE_PATH (default /)
# answers 200. NGINX_CONNECTIONS (default 1024) sets worker_connections (and the open-file limit
# twice that). Its temporary files (PUT bodies) are under $RUN_DIR/nginx/tmp, on the bench disk.
start_nginx() {
  local root="$1" locations="$2" probe="${3:-/}" ngx="$RUN_DIR/nginx" i conns="${NGINX_CONNECTIONS:-1024}"
  pick_port NGINX_PORT
  mkdir -p "$ngx/tmp"
  {
    echo "daemon off;"
    echo "worker_processes 1;"
    ((EUID == 0)) && echo "user $(id -un) $(id -gn);" # else workers run as nobody and cannot read the file
    echo "pid $ngx/nginx.pid;"
    echo "error_log $ngx/error.log warn;"
    echo "worker_rlimit_nofile $((conns * 2 + 64));"
    echo "events { worker_connections $conns; }"
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

# nginx_has_dav: true when this nginx was built with the dav module (PUT), as Debian's nginx is.
nginx_has_dav() { "$NGINX" -V 2>&1 | grep -q -- '--with-http_dav_module'; }

# ---------------------------------------------------------------- many small files

# make_small_files COUNT KIB: COUNT files of KIB KiB under $OUT/small-www/f/<KIB>k, deterministic bytes
# (a seeded PRNG per file index, so a file list is the same in every run and is generated once), and
# their manifest, sha256sum's own output. Sets WWW (nginx's root), SUB (<KIB>k), SRC (the files'
# directory) and MANIFEST.
make_small_files() {
  local files="$1" file_bytes=$(($2 * 1024))
  WWW="$OUT/small-www"
  SUB="${2}k"
  SRC="$WWW/f/$SUB"
  MANIFEST="$SRC.sha256sums-$files"
  if [[ -s "$MANIFEST" && "$(wc -l <"$MANIFEST")" == "$files" ]]; then
    log "reusing $files files of $2 KiB in $SRC"
  else
    log "generating $files files of $2 KiB in $SRC ..."
    mkdir -p "$SRC"
    python3 - "$SRC" "$files" "$file_bytes" <<'PY'
import os, random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    p = os.path.join(d, f"{i:06d}")
    if os.path.exists(p) and os.path.getsize(p) == size:
        continue  # the same seed gives the same bytes
    with open(p + ".tmp", "wb") as f:
        f.write(random.Random(i * 1000003 + size).randbytes(size))
    os.replace(p + ".tmp", p)
PY
    (cd "$SRC" && seq -f '%06g' 0 $((files - 1)) | xargs sha256sum) >"$MANIFEST.tmp"
    mv -f "$MANIFEST.tmp" "$MANIFEST"
  fi
  chmod -R a+rX "$WWW"
}

# ---------------------------------------------------------------- the test file

# make_test_file BYTES: the cached test file of random bytes, $OUT/www/file, with its SHA-256 in
# $OUT/www/file.sha256 ("<sha256> <bytes>"); generated once and reused while the size stays the same.
# Sets TEST_WWW, TEST_FILE and TEST_SHA.
make_test_file() {
  local bytes="$1"
  TEST_WWW="$OUT/www"
  TEST_FILE="$TEST_WWW/file"
  mkdir -p "$TEST_WWW"
  if [[ -f "$TEST_FILE" && -f "$TEST_FILE.sha256" && "$TEST_FILE.sha256" -nt "$TEST_FILE" &&
    "$(stat -c %s "$TEST_FILE")" == "$bytes" && "$(awk '{ print $2 }' "$TEST_FILE.sha256")" == "$bytes" ]]; then
    TEST_SHA="$(awk '{ print $1 }' "$TEST_FILE.sha256")"
    log "reusing the test file: $(fmt "$(calc "$bytes / 1073741824")") GiB ($bytes bytes), sha256 $TEST_SHA"
  else
    rm -f "$TEST_FILE" "$TEST_FILE.sha256"
    log "generating the test file: $(fmt "$(calc "$bytes / 1073741824")") GiB ($bytes bytes) of random bytes ..."
    if have openssl; then
      # AES-CTR over zeros: random-looking, incompressible, several times faster than /dev/urandom.
      head -c "$bytes" /dev/zero |
        openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:bench-$RANDOM-$RANDOM-$$" |
        tee "$TEST_FILE.tmp" | sha256sum | awk '{ print $1 }' >"$TEST_FILE.tmp.sha"
    else
      head -c "$bytes" /dev/urandom | tee "$TEST_FILE.tmp" | sha256sum | awk '{ print $1 }' >"$TEST_FILE.tmp.sha"
    fi
    [[ "$(stat -c %s "$TEST_FILE.tmp")" == "$bytes" ]] || die "the generated file has the wrong size"
    TEST_SHA="$(cat "$TEST_FILE.tmp.sha")"
    mv -f "$TEST_FILE.tmp" "$TEST_FILE"
    echo "$TEST_SHA $bytes" >"$TEST_FILE.sha256"
    rm -f "$TEST_FILE.tmp.sha"
    log "  sha256 $TEST_SHA"
  fi
  chmod 644 "$TEST_FILE"
}

# gib_bytes GIB: bytes of a size in GiB (fractions allowed); dies unless it is a positive number.
gib_bytes() {
  if ! [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v s="$1" 'BEGIN { exit !(s > 0) }'; then
    die "BENCH_SIZE_GIB must be a positive number; got '$1'"
  fi
  awk -v s="$1" 'BEGIN { printf "%.0f", s * 1073741824 }'
}

# ---------------------------------------------------------------- the local cluster

MVN_LOCK=/tmp/transfer-mvn.lock

# ensure_built: builds the project (mvn install, no tests) under the shared Maven lock when the
# launcher would build it, and stamps the build as the launcher does, so that the launcher's own
# build (which takes no lock) is a no-op. The test mirrors deploy/local/start's needs_build.
ensure_built() {
  local stamp="$ROOT/deploy/target/.local-build-stamp" f need=0 next
  for f in "$stamp" "$ROOT/api-service/target/quarkus-app/quarkus-run.jar" \
    "$ROOT/worker-service/target/quarkus-app/quarkus-run.jar" \
    "$ROOT/deploy/target/classes/transfer/deploy/LocalCluster.class" "$ROOT/deploy/target/lib"; do
    [[ -e "$f" ]] || need=1
  done
  if ((!need)) && [[ -n "$(find "$ROOT" \( -name target -o -name .git -o -name .data -o -name node_modules \) -prune -o \
    -type f \( -path '*/src/*' -o -name pom.xml \) -newer "$stamp" -print -quit)" ]]; then
    need=1
  fi
  ((need)) || return 0
  have mvn || die "Maven (mvn) is needed to build the project"
  have flock || die "flock (util-linux) is needed"
  if ! flock -n "$MVN_LOCK" true; then log "waiting for the Maven lock $MVN_LOCK (another build runs) ..."; fi
  log "building the project (mvn install -DskipTests, holding $MVN_LOCK; output in $RUN_DIR/build.out) ..."
  mkdir -p "$ROOT/deploy/target"
  # Stamped with the time the build started, as the launcher does.
  next="$(mktemp "$ROOT/deploy/target/.local-build-stamp.XXXXXX")"
  if ! (cd "$ROOT" && flock "$MVN_LOCK" mvn -B -q install -DskipTests -DskipITs -Dspotless.check.skip=true) \
    >"$RUN_DIR/build.out" 2>&1 </dev/null; then
    rm -f "$next"
    tail -n 30 "$RUN_DIR/build.out" >&2
    die "the build failed (output above; all in $RUN_DIR/build.out)"
  fi
  mv -f "$next" "$stamp"
}

http_code() { curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true; }

# start_cluster WORKERS [VAR=value ...]: runs deploy/local/start in the background with its data in
# $DATA_DIR, on free ports, with WORKERS workers and the given extra environment; waits (up to
# $START_TIMEOUT s) until the api and every worker are ready. Sets API, API_PORT, KEY,
# LAUNCHER_PID, API_PID and WORKER_PIDS (array).
start_cluster() {
  local attempt rc
  ensure_built
  for attempt in 1 2 3; do
    rc=0
    start_cluster_once "$@" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) || exit 1
    log "a port was taken by another process before the cluster could bind it; trying again with other ports ($attempt of 3)"
    stop_cluster
    mkdir -p "$RUN_DIR/failed-start-$attempt"
    mv -f "$RUN_DIR/launcher.out" "$DATA_DIR/logs" "$RUN_DIR/failed-start-$attempt/" 2>/dev/null || true
    rm -rf "$DATA_DIR"
  done
  die "the cluster could not start on free ports three times (see $RUN_DIR/failed-start-*)"
}

# start_cluster_once: start_cluster's work; returns 2 when the launcher stopped because a port it
# was given had been taken meanwhile, dies on any other failure.
start_cluster_once() {
  local workers="$1" what p i
  shift
  pick_port API_PORT
  pick_port WORKER_PORT "$workers"
  pick_port KAFKA_PORT pair
  pick_port DB_PORT
  KEY="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  # shellcheck disable=SC2034 # API: used by the scripts
  API="http://127.0.0.1:$API_PORT"
  log "starting the local cluster ($workers worker(s); api $API_PORT, worker health $WORKER_PORT.., kafka $KAFKA_PORT, db $DB_PORT; data $DATA_DIR) ..."
  (
    cd "$ROOT" || exit 1
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
        if grep -q -E 'seems to be in use by another process|is already in use|Address already in use' "$RUN_DIR/launcher.out" "$DATA_DIR"/logs/*.log 2>/dev/null; then
          wait "$LAUNCHER_PID" 2>/dev/null
          LAUNCHER_PID=""
          return 2
        fi
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

# postmaster_pid: the PostgreSQL server of this run's cluster (pg_ctl detaches it, so it is no
# descendant of the launcher): the process whose command line names $DATA_DIR and whose parent is
# not another such process. Empty when none (an external database).
postmaster_pid() {
  local f p
  local -a st
  for f in /proc/[0-9]*/cmdline; do
    p="${f#/proc/}"
    p="${p%/cmdline}"
    [[ "$(readlink "/proc/$p/exe" 2>/dev/null)" == */postgres ]] || continue
    [[ "$(cmdline "$p")" == *"$DATA_DIR/"* ]] || continue
    read -r -a st <<<"$(stat_fields "$p")"
    [[ "$(readlink "/proc/${st[1]:-0}/exe" 2>/dev/null)" == */postgres ]] && continue
    echo "$p"
    return 0
  done
}

# cluster_cpu: CPU ticks so far of "api workers launcher postgres machine": the api-service JVM, the
# worker JVMs together, the launcher JVM (which runs the Kafka broker), PostgreSQL (server and
# backends) and the whole machine (busy ticks of all cores). Differences of two readings say where
# the CPU went.
cluster_cpu() {
  local w=0 p busy pg=0
  for p in "${WORKER_PIDS[@]}"; do w=$((w + $(cpu_ticks "$p"))); done
  [[ -n "${PG_PID:-}" ]] || PG_PID="$(postmaster_pid)"
  [[ -n "$PG_PID" ]] && pg="$(tree_ticks "$PG_PID")"
  read -r busy _ <<<"$(machine_ticks)"
  echo "$(cpu_ticks "${API_PID:-0}") $w $(cpu_ticks "$LAUNCHER_PID") $pg $busy"
}

# cost_snapshot FILE: the cluster's cumulative counters now (CPU by process; PostgreSQL's statements,
# commits, WAL bytes and row changes; the Kafka records the relay published), as JSON into FILE.
# Two snapshots bracket a piece of work; `cost_report BEFORE AFTER TASKS JSON` prints what it cost
# per task (bench/lib/cost.py).
cost_snapshot() {
  bash -c "$(cost_snapshot_command "$1")"
}

# cost_snapshot_command FILE [--end]: the shell command that takes that snapshot; with --end, the
# snapshot of a run's end (CPU read first), for a client to run at the moment the measured run ends.
cost_snapshot_command() {
  [[ -n "${PG_PID:-}" ]] || PG_PID="$(postmaster_pid)"
  local workers
  workers="$(IFS=,; echo "${WORKER_PIDS[*]}")"
  printf '%q ' python3 "$BENCH_LIB_DIR/cost.py" snapshot --db-port "$DB_PORT" --api "$API" \
    --pids "api=${API_PID:-} workers=$workers kafka=$LAUNCHER_PID postgres=${PG_PID:-}" ${2:+"$2"}
  printf '> %q' "$1"
}

cost_report() {
  python3 "$BENCH_LIB_DIR/cost.py" diff "$1" "$2" --tasks "$3" --json "$4"
}

# api [curl options] URL: curl with the bench key, JSON, 127.0.0.1 without a proxy.
api() {
  curl -s --noproxy '*' --max-time 10 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"
}

# wait_task SID TID TIMEOUT_S: polls GET .../tasks/TID every 50 ms until the task is final
# (completed, failed, canceled), TIMEOUT_S passes or the cluster stops; sets TASK_JSON and TASK_STATE.
wait_task() {
  local sid="$1" tid="$2" deadline json
  deadline=$(($(now_ns) + $3 * 1000000000))
  TASK_STATE="" TASK_JSON=""
  while :; do
    json="$(api "$API/v1/sessions/$sid/tasks/$tid" || true)"
    if [[ "$json" =~ \"state\"[[:space:]]*:[[:space:]]*\"([a-z_]+)\" ]]; then
      TASK_STATE="${BASH_REMATCH[1]}"
      # shellcheck disable=SC2034 # read by the scripts
      TASK_JSON="$json"
      [[ "$TASK_STATE" == completed || "$TASK_STATE" == failed || "$TASK_STATE" == canceled ]] && return 0
    fi
    (($(now_ns) < deadline)) || return 1
    alive "$LAUNCHER_PID" || return 1
    sleep 0.05
  done
}

# stored_path TASK_JSON: the local path of a task's stored object (its file:// location, decoded),
# printed only when it lies under $DATA_DIR.
stored_path() {
  local location obj
  location="$(json_field location <<<"$1" || true)"
  [[ "$location" == file://* ]] || return 0
  obj="${location#file://}"
  obj="$(printf '%b' "${obj//%/\\x}")" # percent-decoding
  [[ "$obj" == "$DATA_DIR/"* ]] && echo "$obj"
  return 0
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

# bench_summary CASE CLUSTER PEER RATIO TARGET MET: one line for bench/run-all's results table, written
# to $BENCH_SUMMARY (tab-separated) when run-all set it; nothing otherwise. "-" for what does not apply.
bench_summary() {
  [[ -n "${BENCH_SUMMARY:-}" ]] || return 0
  local IFS=$'\t'
  echo "$*" >>"$BENCH_SUMMARY"
}

# met_if AWK_CONDITION: "yes" or "no".
met_if() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo no; fi; }

# ---------------------------------------------------------------- the bench lock

# Benchmarks share 2 cores with builds and with each other: every script holds an exclusive flock
# on BENCH_LOCK (/tmp/transfer-bench.lock, the same file for everybody) while it runs, so two never
# run at once. Sourcing this file takes it, waiting (and saying so) while another process holds it.
# A script started by a holder (bench/run-all, or `flock /tmp/transfer-bench.lock bench/...`)
# inherits the holder's descriptor and goes on at once: a lock is owned by the open file
# description, so flock on the inherited descriptor succeeds. BENCH_LOCK_HELD=1 skips the lock
# altogether (the caller says it holds it). The lock is released when the script and everything
# that inherited the descriptor (nginx, the launcher) have exited.
BENCH_LOCK="${BENCH_LOCK_FILE:-/tmp/transfer-bench.lock}"

# lock_openers: " pid N (command)" for each process other than this one that has BENCH_LOCK open
# (the holder and any waiters). Called with our own descriptor closed for the search.
lock_openers() {
  local p
  find /proc/[0-9]*/fd -maxdepth 1 -lname "$(readlink -f "$BENCH_LOCK")" 2>/dev/null |
    awk -F/ -v me="$$" '$3 != me { print $3 }' | sort -un |
    while read -r p; do printf ' pid %s (%s)' "$p" "$(cmdline "$p" | cut -c1-80)"; done
}

take_bench_lock() {
  local f fd t0 target
  [[ "${BENCH_LOCK_HELD:-0}" == 1 ]] && return 0
  have flock || die "flock (util-linux) is needed for the bench lock"
  touch "$BENCH_LOCK" 2>/dev/null || [[ -w "$BENCH_LOCK" ]] || die "cannot open the bench lock $BENCH_LOCK"
  target="$(readlink -f "$BENCH_LOCK")"
  # Inherited from a holder?
  for f in "/proc/$$/fd/"*; do
    fd="${f##*/}"
    [[ "$(readlink "$f" 2>/dev/null)" == "$target" ]] || continue
    if flock -n "$fd" 2>/dev/null; then
      BENCH_LOCK_FD="$fd"
      return 0
    fi
  done
  exec {BENCH_LOCK_FD}>>"$BENCH_LOCK" || die "cannot open the bench lock $BENCH_LOCK"
  if ! flock -n "$BENCH_LOCK_FD"; then
    log "waiting for the bench lock $BENCH_LOCK, which another benchmark or cluster holds:$(
      exec {BENCH_LOCK_FD}>&-
      lock_openers
    )"
    t0=$SECONDS
    flock "$BENCH_LOCK_FD" || die "could not take the bench lock $BENCH_LOCK"
    log "got the bench lock after $((SECONDS - t0)) s"
    # shellcheck disable=SC2034
    LOAD0="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
  fi
}
take_bench_lock
