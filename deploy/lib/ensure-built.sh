# shellcheck shell=bash
# ensure_built ROOT: builds the project (no tests) when its packaged services or the launcher are
# missing, or any source or pom changed since the last build. Sourced by deploy/local/start and
# deploy/images/build; exits the calling script when the build fails.
#
# ensure_cli_built ROOT: the same for ./transfer, which needs only contracts, client and cli: those
# three modules are built, and only their sources (and the root pom) are compared.

ensure_built() {
  local root="$1"
  _ensure_build "$root" "$root/deploy/target/.local-build-stamp" \
    "install" \
    "$root/api-service/target/quarkus-app/quarkus-run.jar" \
    "$root/worker-service/target/quarkus-app/quarkus-run.jar" \
    "$root/deploy/target/classes/transfer/deploy/LocalCluster.class" \
    "$root/deploy/target/lib" \
    -- "$root"
}

ensure_cli_built() {
  local root="$1"
  _ensure_build "$root" "$root/cli/target/.cli-build-stamp" \
    "package -pl cli -am" \
    "$root/cli/target/classes/transfer/cli/Main.class" \
    "$root/cli/target/lib" \
    -- "$root/contracts" "$root/client" "$root/cli" "$root/pom.xml"
}

# _ensure_build ROOT STAMP "MAVEN ARGS" REQUIRED_FILE... -- SOURCE_PATH...
_ensure_build() {
  local root="$1" stamp="$2" goals="$3"
  shift 3
  local required=() sources=()
  while (($#)) && [[ "$1" != -- ]]; do
    required+=("$1")
    shift
  done
  shift
  sources=("$@")
  if ! _build_needed "$stamp" "${required[@]}" -- "${sources[@]}"; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || {
    echo "Maven (mvn) is needed to build the project; install Maven 3.8 or later." >&2
    exit 1
  }
  echo "Building (first time takes a few minutes)..." >&2
  # copy-dependencies adds jars and never removes one: after a version change both would sit on
  # the class path. The required class-path directories are written afresh.
  for f in "${required[@]}"; do
    if [[ "$f" == */target/lib ]]; then
      rm -rf "$f"
    fi
  done
  mkdir -p "$(dirname "$stamp")"
  # Stamp the time the build started, not ended: a file saved during the build is then newer than
  # the stamp and triggers the next build.
  local next_stamp
  next_stamp="$(mktemp "$stamp.XXXXXX")"
  # Tests are for CI; the formatting check must not stop someone from running the cluster.
  # shellcheck disable=SC2086 # goals is a word list
  if ! (cd "$root" && mvn -B -q $goals -DskipTests -DskipITs -Dspotless.check.skip=true >&2); then
    rm -f "$next_stamp"
    echo "The build failed (see above); fix it and run $0 again." >&2
    exit 1
  fi
  mv -f "$next_stamp" "$stamp"
}

# _build_needed STAMP REQUIRED_FILE... -- SOURCE_PATH...: true when a required file is missing or
# a source or pom under the source paths is newer than the stamp.
_build_needed() {
  local stamp="$1" f
  shift
  [[ -e "$stamp" ]] || return 0
  while (($#)) && [[ "$1" != -- ]]; do
    [[ -e "$1" ]] || return 0
    shift
  done
  shift
  # Skip build output, VCS data and the default data directory (large, and never an input).
  [[ -n "$(find "$@" \
    \( -name target -o -name .git -o -name .data -o -name node_modules \) -prune -o \
    -type f \( -path '*/src/*' -o -name pom.xml \) -newer "$stamp" -print -quit)" ]]
}
