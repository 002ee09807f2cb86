# Shared settings for the project's scripts; sourced, not run.
# shellcheck shell=bash
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PROJECT_ROOT
export CONTAINERS_CONF="$PROJECT_ROOT/containers/containers.conf"
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

VENV="$PROJECT_ROOT/.venv"
COLLECTIONS_DIR="$PROJECT_ROOT/.cache/collections"
# shellcheck disable=SC2034  # read by scripts/bootstrap, which sources this file
HOST_PACKAGES=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs python3-venv postfix postfix-lmdb postfix-cdb s-nail shellcheck)

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run this as root: it installs packages and runs privileged containers"
}

# Use the project's virtual environment, Podman settings and collection path.
activate() {
  export PATH="$VENV/bin:$PATH"
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
  export ANSIBLE_CONFIG="$PROJECT_ROOT/scripts/ansible.cfg"
  # The tests' podman_pipelining connection (tests/plugins/connection/podman_pipelining.py).
  export ANSIBLE_CONNECTION_PLUGINS="$PROJECT_ROOT/tests/plugins/connection"
  if [ "${POSTMASTER_MAIL_MITOGEN:-0}" = 1 ]; then
    use_mitogen
  fi
}

# Optional accelerator: Mitogen's strategy (see README). It speeds up the connection types it
# knows by their short names (ssh, podman, ...); others run through it unaccelerated.
use_mitogen() {
  ANSIBLE_STRATEGY_PLUGINS=$(python -c 'import ansible_mitogen, os; print(os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"))') \
    || die "Mitogen is not installed in $VENV (it comes from requirements.txt)"
  export ANSIBLE_STRATEGY_PLUGINS ANSIBLE_STRATEGY=mitogen_linear
}

# Wait until systemd in a container has finished booting ("degraded" is normal on trixie).
# Returns non-zero after 120 s, having printed what the container last said.
wait_for_systemd() {
  local container=$1 state="" error="" errfile
  errfile=$(mktemp)
  for _ in $(seq 1 240); do
    state=$(podman exec "$container" systemctl is-system-running 2>"$errfile" || true)
    error=$(tr '\n' ' ' <"$errfile")
    case "$state" in running|degraded) rm -f "$errfile"; return 0 ;; esac
    sleep 0.5
  done
  rm -f "$errfile"
  log "systemd in container $container did not finish booting: state '${state:-none}', last error '${error:-none}'"
  log "container status: $(podman inspect -f '{{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}' "$container" 2>&1)"
  podman logs --tail 20 "$container" >&2 2>&1 || true
  return 1
}
