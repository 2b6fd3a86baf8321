#!/usr/bin/env bash
# The system packages the checks need (`make test`, `.ci/run`), installed once.
#
#   bash scripts/prereqs.sh           install what is missing, then check that each works
#   bash scripts/prereqs.sh --check   only check; never installs
#
# Installs with apt-get (Debian, Ubuntu) as root, or through `sudo -n` (sudo without a
# password prompt). Otherwise it stops at once, printing the exact command to run. It also
# checks that each package *works* here: bubblewrap must be able to build a sandbox (a
# container needs user namespaces, e.g. docker --privileged). `make book` needs none of this.
set -euo pipefail

# One line per package the checks need:
#   Debian package | command (or file pattern) that shows it is installed | what needs it
# Add later ones here. Debian puts PostgreSQL's initdb and postgres under
# /usr/lib/postgresql/<version>/bin, off PATH: the tests find them there (postgresql-common's
# pg_ctlcluster, on PATH, can outlive the server).
PREREQS=(
  "make|make|the course's commands (make book, make test)"
  "bubblewrap|bwrap|the sandbox python -m autograder grade runs submissions in"
  "chromium|${RNN_CHROMIUM:-chromium}|the browser test of the built book (tests/test_browser.py)"
  "postgresql|/usr/lib/postgresql/*/bin/initdb|the gradebook server of the distributed tests (tests/autograder/distributed)"
  "npm|npm|installs the npm packages below"
)

# One line per npm package the checks need, pinned exactly; installed with npm (no install
# scripts) into the git-ignored .prereqs/ of the repository, which the tests read from disk:
# nothing is downloaded when they run.
#   package | exact version | what needs it
NPM_PREREQS=(
  "axe-core|4.14.1|the accessibility test of the built book (tests/test_accessibility.py)"
  "configurable-http-proxy|5.3.0|JupyterHub's proxy, for the grading service on a real hub (tests/autograder/service/test_real_hub.py)"
)
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NPM_DIR="$ROOT/.prereqs"

mode=${1:-install}
case "$mode" in
  install|--check) ;;
  *) echo "usage: bash scripts/prereqs.sh [--check]" >&2; exit 2 ;;
esac

if [ -n "${RNN_CHROMIUM:-}" ] && ! command -v "$RNN_CHROMIUM" >/dev/null 2>&1; then
  echo "error: RNN_CHROMIUM=$RNN_CHROMIUM is not a program: unset it to use Debian's" \
       "chromium, or point it at a Chromium binary." >&2
  exit 1
fi

missing_packages() {
  local entry package command
  for entry in "${PREREQS[@]}"; do
    IFS='|' read -r package command _ <<<"$entry"
    if [[ $command == */* ]]; then
      compgen -G "$command" >/dev/null || printf '%s ' "$package"
    else
      command -v "$command" >/dev/null 2>&1 || printf '%s ' "$package"
    fi
  done
}

# The npm packages whose pinned version is not the one in .prereqs/, as package@version.
stale_npm_packages() {
  local entry package version installed
  for entry in "${NPM_PREREQS[@]}"; do
    IFS='|' read -r package version _ <<<"$entry"
    installed=$(node -p 'require(process.argv[1]).version' \
      "$NPM_DIR/node_modules/$package/package.json" 2>/dev/null || true)
    [ "$installed" = "$version" ] || printf '%s@%s ' "$package" "$version"
  done
}

missing=$(missing_packages)
if [ -n "$missing" ] && [ "$mode" = install ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing ${missing% }, and this is not Debian or Ubuntu: install them with" \
         "your package manager (the checks need Linux), then run make test again." >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "error: missing ${missing% }: run \`sudo apt-get update && sudo apt-get install -y" \
         "--no-install-recommends ${missing% }\`, then make test again." >&2
    exit 1
  fi
  echo "prerequisites: installing ${missing% } with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086  # one word per package
  if ! { "${sudo[@]}" apt-get update -qq \
         && "${sudo[@]}" apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
  then
    echo "error: apt-get could not install ${missing% } (see above): fix that, or run" \
         "\`apt-get install -y --no-install-recommends ${missing% }\` by hand." >&2
    exit 1
  fi
  missing=$(missing_packages)
fi

if [ -n "$missing" ]; then
  echo "error: missing ${missing% }: run \`bash scripts/prereqs.sh\` (as root or with sudo)," \
       "or \`apt-get install -y --no-install-recommends ${missing% }\`." >&2
  exit 1
fi

# Every pinned package, as package@version: npm installs them together (installing one alone
# would remove the others from a folder without package.json).
all_npm_packages() {
  local entry package version
  for entry in "${NPM_PREREQS[@]}"; do
    IFS='|' read -r package version _ <<<"$entry"
    printf '%s@%s ' "$package" "$version"
  done
}

stale=$(stale_npm_packages)
if [ -n "$stale" ] && [ "$mode" = install ]; then
  echo "prerequisites: installing ${stale% } with npm into $NPM_DIR"
  stale=$(all_npm_packages)
  # shellcheck disable=SC2086  # one word per package
  if ! npm install --prefix "$NPM_DIR" --no-save --no-package-lock --ignore-scripts \
       --no-audit --no-fund --loglevel=error $stale >/dev/null; then
    echo "error: npm could not install ${stale% } (see above): fix that, or run" \
         "\`npm install --prefix .prereqs --no-save ${stale% }\` in the repository." >&2
    exit 1
  fi
  stale=$(stale_npm_packages)
fi
if [ -n "$stale" ]; then
  echo "error: missing ${stale% } in .prereqs/: run \`bash scripts/prereqs.sh\`." >&2
  exit 1
fi

# Installed: does each work here?
if ! out=$(bwrap --unshare-net --unshare-pid --die-with-parent --ro-bind / / true 2>&1); then
  echo "error: bubblewrap is installed but cannot build a sandbox here (${out//$'\n'/ }):" \
       "run the checks where user namespaces are allowed (in docker: --privileged)." >&2
  exit 1
fi
chromium=${RNN_CHROMIUM:-chromium}
if ! out=$("$chromium" --version 2>&1); then
  echo "error: $chromium is installed but does not start (${out//$'\n'/ }): reinstall it" \
       "(\`apt-get install --reinstall chromium\`) or name another with RNN_CHROMIUM." >&2
  exit 1
fi
chromium_version=$(printf '%s\n' "$out" | tail -n 1)
# The distributed tests start their own PostgreSQL server with initdb and postgres.
pg_bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pg_bindir/initdb" ] || pg_bindir=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb \
  2>/dev/null | sort -V | tail -n 1)")
if ! out=$("$pg_bindir/postgres" --version 2>&1); then
  echo "error: postgresql is installed but its server programs (initdb, postgres) are not" \
       "in $pg_bindir: reinstall it (\`apt-get install --reinstall postgresql\`)." >&2
  exit 1
fi
npm_versions=$(for entry in "${NPM_PREREQS[@]}"; do IFS='|' read -r p v _ <<<"$entry";
  printf ', %s %s' "$p" "$v"; done)
echo "prerequisites: make, bubblewrap (its sandbox works), $chromium_version, $out$npm_versions"
