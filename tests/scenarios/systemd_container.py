"""A throwaway Debian container booted with systemd, for scenario tests that own their host."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest


@contextlib.contextmanager
def systemd_container(name, image, env, hostname, extra_args=()):
    """Start NAME from IMAGE with systemd as PID 1, wait until it has booted, remove it after.
    EXTRA_ARGS go to podman run (for example dns_server.DnsServer.client_args())."""
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], env=env, capture_output=True, check=False)
    started = subprocess.run(["podman", "run", "-d", "--name", name, "--hostname", hostname, "--privileged",
                              *extra_args, image, "/sbin/init"], env=env, capture_output=True, text=True, check=False)
    assert started.returncode == 0, started.stderr
    try:
        wait_for_systemd(name, env)
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], env=env, capture_output=True, check=False)


# The connection of tests that converge a host: containers.podman.podman with pipelining, one
# `podman exec` per module as SSH with pipelining makes one remote command (tests/plugins/connection).
# Tests of the non-pipelining path (test_drift's call counts, test_install, test_preview) keep
# containers.podman.podman.
PIPELINED_CONNECTION = "podman_pipelining"

# The base image with the mail packages installed, one per release (scripts/build-test-images).
MAIL_PACKAGES_IMAGE = "localhost/postmaster-mail-packages:%s"
BUILDER = Path(__file__).resolve().parents[2] / "scripts" / "build-test-images"


def mail_packages_image(release, env):
    """The name of RELEASE's image with the mail packages installed, built first when it is missing
    or stale (scripts/test builds them before the tests; the builder waits while another builds)."""
    built = subprocess.run([str(BUILDER), release], env=env, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail("scripts/build-test-images %s failed:\n%s" % (release, built.stderr[-3000:]))
    return MAIL_PACKAGES_IMAGE % release


@contextlib.contextmanager
def bookworm_mail_host(name, env, hostname):
    """A bookworm systemd container with the mail packages installed, for a test that converges a
    mail server (not one that proves an install from the bare image). It boots as a fresh host
    named HOSTNAME with Postfix installed would: the image's first-boot unit gives Postfix
    (myhostname, /etc/mailname) and the snakeoil certificate this name."""
    with systemd_container(name, mail_packages_image("bookworm", env), env, hostname):
        yield name


def wait_for_systemd(container, env):
    """As scripts/lib.sh's wait_for_systemd: "degraded" is normal on trixie."""
    state = error = ""
    for dummy in range(240):
        probe = subprocess.run(["podman", "exec", container, "systemctl", "is-system-running"], env=env,
                               capture_output=True, text=True, check=False)
        state, error = probe.stdout.strip(), probe.stderr.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    status = subprocess.run(["podman", "inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}}", container],
                            env=env, capture_output=True, text=True, check=False)
    pytest.fail("systemd in %s did not finish booting: state %r, last error %r, container %s"
                % (container, state, error, (status.stdout + status.stderr).strip()))
