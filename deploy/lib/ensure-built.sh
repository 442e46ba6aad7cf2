# shellcheck shell=bash
# ensure_built ROOT: builds the project (no tests) when its packaged services or the launcher are
# missing, or any source or pom changed since the last build. Sourced by deploy/local/start and
# deploy/images/build; exits the calling script when the build fails.

ensure_built() {
  local root="$1"
  local stamp="$root/deploy/target/.local-build-stamp"
  if ! _build_needed "$root" "$stamp"; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || {
    echo "Maven (mvn) is needed to build the project; install Maven 3.8 or later." >&2
    exit 1
  }
  echo "Building (first time takes a few minutes)..." >&2
  mkdir -p "$root/deploy/target"
  # Stamp the time the build started, not ended: a file saved during the build is then newer than
  # the stamp and triggers the next build.
  local next_stamp
  next_stamp="$(mktemp "$root/deploy/target/.local-build-stamp.XXXXXX")"
  # Tests are for CI; the formatting check must not stop someone from running the cluster.
  if ! (cd "$root" && mvn -B -q install -DskipTests -DskipITs -Dspotless.check.skip=true >&2); then
    rm -f "$next_stamp"
    echo "The build failed (see above); fix it and run $0 again." >&2
    exit 1
  fi
  mv -f "$next_stamp" "$stamp"
}

_build_needed() {
  local root="$1" stamp="$2" f
  for f in \
    "$stamp" \
    "$root/api-service/target/quarkus-app/quarkus-run.jar" \
    "$root/worker-service/target/quarkus-app/quarkus-run.jar" \
    "$root/deploy/target/classes/transfer/deploy/LocalCluster.class" \
    "$root/deploy/target/lib"; do
    [[ -e "$f" ]] || return 0
  done
  # Any source or pom newer than the last build. Skip build output, VCS data and the default data
  # directory (large, and never an input).
  [[ -n "$(find "$root" \
    \( -name target -o -name .git -o -name .data -o -name node_modules \) -prune -o \
    -type f \( -path '*/src/*' -o -name pom.xml \) -newer "$stamp" -print -quit)" ]]
}
