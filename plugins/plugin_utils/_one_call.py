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

Python compiles every module an AnsiballZ payload imports from its zip file on every run
(zipimport keeps no bytecode), which is most of a check's time on the host. The module is
therefore started through a short bootstrap that keeps the compiled code in CODE_CACHE,
keyed by the Python version and the source's SHA-256, so a changed module_utils file is
compiled again. The cache is used only when it and its parent belong to the user running
the module and others can neither write the parent nor use the cache.
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
CODE_CACHE = "/var/cache/postmaster-mail/python"

# python -c BOOTSTRAP MODULE_FILE: runs the payload as `python MODULE_FILE` would, with
# zipimport's compile step served from CODE_CACHE. Any problem with the cache only means
# compiling as usual.
BOOTSTRAP = r"""
import hashlib, marshal, os, runpy, stat, sys, tempfile, zipimport
path, cache = sys.argv[1], %r
def private(directory, closed):
    info = os.lstat(directory)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & closed
def refile(code, filename):
    consts = tuple(refile(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
def cached_compile(pathname, source, compile_source=zipimport._compile_source):
    inner = pathname.replace(os.sep, "/").rpartition(".zip/")[2]
    key = hashlib.sha256(sys.implementation.cache_tag.encode() + b"\0" + inner.encode() + b"\0" + source)
    entry = os.path.join(cache, key.hexdigest())
    try:
        with open(entry, "rb") as stream:
            return refile(marshal.load(stream), pathname)
    except Exception:
        pass
    code = compile_source(pathname, source)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=cache)
        with os.fdopen(descriptor, "wb") as stream:
            marshal.dump(code, stream)
        os.replace(temporary, entry)
    except Exception:
        pass
    return code
try:
    open(path, "rb").close()
except OSError as error:
    sys.stderr.write("%%s: can't open file %%r: %%s\n" %% (sys.executable, path, error))
    sys.exit(2)
try:
    os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
    os.makedirs(cache, mode=0o700, exist_ok=True)
    if private(os.path.dirname(cache), 0o022) and private(cache, 0o077):
        zipimport._compile_source = cached_compile
except Exception:
    pass
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
""" % CODE_CACHE


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
    environment = action._compute_environment_string().strip()
    interpreter = shlex.split(module_bits.shebang.removeprefix("#!"))
    command = (environment + " " if environment else "") + shlex.join(interpreter + ["-c", BOOTSTRAP, remote_path])
    command = "%s; rc=$?; rm -f %s; exit $rc" % (command, quoted)
    result = action._low_level_execute_command(command, sudoable=True)
    if result.get("rc") == 2 and "can't open file" in result.get("stderr", ""):
        # The copy is not where the command looks (a mount the connection does not see).
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
    data = action._parse_returned_data(result, module_bits.serialization_profile)
    remove_internal_keys(data)
    return data
