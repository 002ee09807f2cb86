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
HOST_PACKAGES=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs python3-venv postfix postfix-lmdb postfix-cdb shellcheck)

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run this as root: it installs packages and runs privileged containers"
}

# Use the project's virtual environment, Podman settings and collection path.
activate() {
  export PATH="$VENV/bin:$PATH"
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
  export ANSIBLE_CONFIG="$PROJECT_ROOT/scripts/ansible.cfg"
}

# Wait until systemd in a container has finished booting ("degraded" is normal on trixie).
wait_for_systemd() {
  local container=$1 state
  for _ in $(seq 1 120); do
    state=$(podman exec "$container" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 0.5
  done
  die "systemd in container $container did not finish booting (state: ${state:-unknown})"
}
