#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_prune
short_description: Remove the chain files of earlier certificates that no configuration names any more
version_added: 0.1.0
description:
  - Removes, from the directory where the postmaster.mail.tls role installs chain files, the date-stamped chain
    files of earlier certificates (C(server-YYYYMMDD-HHMMSS.pem), C(client-YYYYMMDD-HHMMSS.pem)) after a renewal.
  - Keeps the chain files in O(keep) and every chain file whose name any file under O(readers) still contains
    (main.cf, master.cf, their rollback copies, the stunnel configuration), so a daemon that is told to read a
    file always finds it. Postfix and stunnel read chain files when a process starts; run this only after they
    were reloaded onto the current files.
  - Removes nothing when O(keep) names no chain file in O(directory).
  - A reader that cannot be read fails the task before anything is removed; one that does not exist is skipped.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  directory:
    description: The host's TLS directory, the postmaster.mail.tls role's C(tls_host_dir).
    type: path
    required: true
  keep:
    description: The current chain files (absolute paths), kept whatever names them.
    type: list
    elements: path
    required: true
  readers:
    description:
      - Files and directories (searched recursively, hidden files included) of the daemons that read chain files.
        A chain file whose name appears in any of them is kept.
    type: list
    elements: path
    default: [/etc/postfix, /etc/stunnel, /etc/dovecot]
"""

EXAMPLES = r"""
- name: Remove earlier chain files once Postfix and stunnel were reloaded
  postmaster.mail.tls_prune:
    directory: /etc/postfix/tls
    keep: ["{{ tls_server_chain_file }}"]
    readers: [/etc/postfix, /etc/stunnel]
"""

RETURN = r"""
removed:
  description: The chain files removed (in check mode, those a real run would remove).
  type: list
  elements: str
  returned: success
  sample: [/etc/postfix/tls/server-20250101-120000.pem]
kept:
  description: Earlier chain files kept because a reader names them, each with the files that name it.
  type: dict
  returned: success
  sample: {/etc/postfix/tls/server-20250101-120000.pem: [/etc/postfix/.postmaster-rollback/main.cf]}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._tls_model import CHAIN_FILE, chain_files_to_prune


def reader_files(readers):
    """Every regular file under `readers` (symbolic links are not followed)."""
    for reader in readers:
        if os.path.isfile(reader) and not os.path.islink(reader):
            yield reader
        elif os.path.isdir(reader) and not os.path.islink(reader):
            for root, dirs, files in os.walk(reader, onerror=_raise):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(root, name)
                    if not os.path.islink(path) and os.path.isfile(path):
                        yield path


def _raise(error):
    raise error


def naming_files(readers, names):
    """Chain file name to the reader files that contain it."""
    named = {name: [] for name in names}
    wanted = [(name, name.encode()) for name in names]
    for path in reader_files(readers):
        with open(path, "rb") as handle:
            data = handle.read()
        for name, raw in wanted:
            if raw in data:
                named[name].append(path)
    return named


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directory=dict(type="path", required=True),
            keep=dict(type="list", elements="path", required=True),
            readers=dict(type="list", elements="path", default=["/etc/postfix", "/etc/stunnel", "/etc/dovecot"]),
        ),
        supports_check_mode=True,
    )
    directory = module.params["directory"].rstrip("/") or "/"
    if not os.path.isabs(directory):
        module.fail_json(msg="tls_prune: directory must be an absolute path, not %r" % directory)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        module.exit_json(changed=False, removed=[], kept={})
    except OSError as exc:
        module.fail_json(msg="tls_prune: cannot open the directory %s: %s" % (directory, exc.strerror))
    try:
        names = [name for name in os.listdir(dir_fd) if CHAIN_FILE.match(name)]
        try:
            named = naming_files(module.params["readers"], names)
        except OSError as exc:
            module.fail_json(msg="tls_prune: cannot read %s (%s), so it is unknown whether it names a chain file; "
                                 "nothing was removed" % (exc.filename, exc.strerror))
        prune = chain_files_to_prune(directory, names, module.params["keep"], named)
        if not module.check_mode:
            for name in prune:
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
            if prune:
                os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    module.exit_json(changed=bool(prune), removed=[os.path.join(directory, name) for name in prune],
                     kept={os.path.join(directory, name): files for name, files in sorted(named.items()) if files})


if __name__ == "__main__":
    main()
