# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tests' connection to their containers: containers.podman.podman with pipelining.

Pipelining is how most sites run the collection over SSH (one remote command per module, the
module on its standard input). containers.podman.podman runs `podman exec` without `-i`, so
it cannot pipeline and pays four or five `podman exec` per module (directory, copy, chmod,
run, clean-up), about half a second each on the 2-core test machine. This plugin passes the
module on stdin (`podman exec -i`) when Ansible pipelines. Test-only, not part of the
collection; tests that prove the non-pipelining path (test_drift's remote call counts,
test_install, the benchmarks) keep containers.podman.podman.
"""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

DOCUMENTATION = """
    name: podman_pipelining
    short_description: containers.podman.podman with pipelining (postmaster.mail's tests only)
    description:
      - The same options as containers.podman.podman; modules are piped to C(podman exec -i).
    extends_documentation_fragment: []
    options:
      remote_addr:
        description: The container's name or ID.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user to run commands as inside the container.
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to pass to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
      pipelining:
        description: Pipe modules to the container instead of copying them.
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""


class Connection(PodmanConnection):
    transport = "podman_pipelining"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # ConnectionBase.exec_command only checks its arguments; the parent's would drop stdin.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        exec_args = ["exec", "-i"]
        if self.user:
            exec_args.extend(("--user", self.user))
        return self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
