"""A throwaway Debian container booted with systemd, for scenario tests that own their host."""

from __future__ import annotations

import contextlib
import subprocess
import time

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


BOOKWORM_IMAGE = "localhost/debian-bookworm:base"
# Bookworm with Postfix installed (tests/modules/test_postfix_apply.py keeps it): used when present.
POSTFIX_IMAGE = "localhost/postmaster-apply-test:bookworm"


@contextlib.contextmanager
def bookworm_mail_host(name, env, hostname):
    """A bookworm systemd container for a test that converges a mail server: from the cached
    image with Postfix installed when there is one (its /etc/mailname set to HOSTNAME: Debian
    kept the name the image was installed under), else from the bare image."""
    cached = subprocess.run(["podman", "image", "exists", POSTFIX_IMAGE], env=env, check=False).returncode == 0
    with systemd_container(name, POSTFIX_IMAGE if cached else BOOKWORM_IMAGE, env, hostname):
        subprocess.run(["podman", "exec", name, "bash", "-c", "echo %s > /etc/mailname" % hostname], env=env,
                       check=True, capture_output=True)
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
