# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module on the managed host with one remote command instead of four or five.

Without pipelining, Ansible makes a private directory on the host (one command, two when
remote_tmp starts with ~), copies the module into it, makes it executable (a command), runs
it (a command) and removes the directory (a command). Connections that cannot pipeline,
such as containers.podman.podman, pay for each. Here the module is copied to a file of its
own with a random name, mode 0600, and one command runs and removes it.

Used where it pays: modules the roles run on every re-run. Falls back to Ansible's own way
when that is already one command (pipelining), under Mitogen (which runs modules in its
own interpreter), with async, and when becoming an unprivileged user (who could not read
the file). Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import secrets
import shlex

from ansible.vars.clean import remove_internal_keys

# A directory every Debian host has on its root file system (podman's put_file copies
# through the container's mount point, which cannot see the tmpfs a systemd container has
# on /tmp). The file is private (0600) and removed by the same command that runs it.
REMOTE_DIR = "/var/tmp"


def _one_call_possible(action):
    connection = action._connection
    # Mitogen first: its action mixin refuses _is_pipelining_enabled().
    return not (
        any(cls.__module__.startswith("ansible_mitogen") for cls in type(connection).__mro__)
        or action._is_pipelining_enabled("new")
        or action._task.async_val
        or action._is_become_unprivileged()
        or getattr(connection._shell, "SHELL_FAMILY", "sh") != "sh"
    )


def execute_module(action, task_vars, module_name=None, module_args=None):
    """What ActionBase._execute_module returns, with one remote command when possible."""
    if not _one_call_possible(action):
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
    module_name = module_name or action._task.action
    module_args = dict(module_args if module_args is not None else action._task.args)
    action._update_module_args(module_name, module_args, task_vars)
    module_bits, dummy = action._configure_module(module_name=module_name, module_args=module_args,
                                                  task_vars=task_vars)
    if module_bits.module_style != "new":
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
    action._used_interpreter = module_bits.shebang
    remote_path = "%s/.postmaster-mail-%s-%s.py" % (REMOTE_DIR, module_name.rsplit(".", 1)[-1], secrets.token_hex(16))
    # Connections that copy through a mount point create the file with this process' umask.
    umask = os.umask(0o077)
    try:
        action._transfer_data(remote_path, module_bits.b_module_data)
    finally:
        os.umask(umask)
    quoted = shlex.quote(remote_path)
    command = action._connection._shell.build_module_command(
        action._compute_environment_string(), module_bits.shebang, quoted)
    command = "%s; rc=$?; rm -f %s; exit $rc" % (command, quoted)
    result = action._low_level_execute_command(command, sudoable=True)
    if result.get("rc") == 2 and "can't open file" in result.get("stderr", ""):
        # The copy is not where the command looks (a mount the connection does not see).
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
    data = action._parse_returned_data(result, module_bits.serialization_profile)
    remove_internal_keys(data)
    return data
