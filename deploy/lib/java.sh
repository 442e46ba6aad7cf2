# shellcheck shell=bash
# find_java: sets $java to a Java 17 or later, the same one Maven uses (JAVA_HOME when set, else the
# one on the PATH); exits the calling script with a clear message when there is none. Sourced by
# deploy/local/start and ./transfer.

find_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
    java="${JAVA_HOME}/bin/java"
  elif command -v java >/dev/null 2>&1; then
    java="$(command -v java)"
  else
    echo "Java 17 or later is needed; found none (no 'java' on the PATH and no JAVA_HOME)." >&2
    exit 1
  fi
  # First line looks like: openjdk version "17.0.15" 2025-04-15  (or "1.8.0_392" for Java 8).
  local version major
  version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${version%%[.+-]*}"
  if [[ "$major" == 1 ]]; then
    major="$(cut -d. -f2 <<<"$version")"
  fi
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    echo "Java 17 or later is needed; found ${version:-an unknown version} ($java)." >&2
    exit 1
  fi
}
