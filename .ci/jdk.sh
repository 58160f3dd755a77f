# Sourced by the scripts beside it: finds a JDK >= 21 (the machine's default java may be 17) and
# puts it first on PATH. JAVA_HOME wins if it already points at one.
_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1; }
_pick_jdk() {
  local d
  for d in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-*-jdk* /usr/lib/jvm/*; do
    [ -n "$d" ] && [ -x "$d/bin/javac" ] || continue
    local v; v=$(_java_major "$d")
    if [ -n "$v" ] && [ "$v" -ge 21 ] 2>/dev/null; then echo "$d"; return 0; fi
  done
  return 1
}
# Sourced into a user's shell (README), a missing JDK fails the source and leaves that shell (and its
# JAVA_HOME) as it was; run from the scripts beside it, it stops them.
_jdk=$(_pick_jdk) || { echo "routewise needs a JDK >= 21; none found (set JAVA_HOME)" >&2; unset _jdk; return 1 2>/dev/null || exit 1; }
JAVA_HOME=$_jdk; unset _jdk
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
