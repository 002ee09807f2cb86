# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keeps each domain's DKIM keys on the control node: makes today's key when the plan of the
rspamd model (plan_keys) asks for one, and returns every published key's selector, public key
and path - nothing secret, so its result can be shown. Runs only on the control node; the
private keys leave it only through the role's no_log copy task, and their digests only through
the filter rspamd_desired_state into the drift check's no_log option. See
plugins/modules/dkim_keys.py for the documentation."""

from __future__ import annotations

import base64
import datetime
import os
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import (
    RspamdSettingsError,
    plan_keys,
    selector_date,
    validate,
)

SUFFIX = ".key"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        directory = os.path.expanduser(str(self._task.args.get("directory") or ""))
        settings = self._task.args.get("settings")
        if not os.path.isabs(directory):
            return dict(result, failed=True, msg="rspamd_dkim_controller_dir must be an absolute path on the control "
                        "node, got %r" % directory)
        try:
            # Checked before any name reaches the file system.
            checked = validate(settings)
            selectors = {domain: existing_selectors(os.path.join(directory, domain))
                         for domain in checked["rspamd_dkim_domains"]}
            plan = plan_keys(selectors, today(), settings)
        except RspamdSettingsError as error:
            return dict(result, failed=True, msg="rspamd: %s" % error)
        except OSError as error:
            return dict(result, failed=True, msg="rspamd_dkim_controller_dir %s cannot be read: %s" % (directory, error))
        keys, made, pending = {}, [], []
        for domain, wanted in plan.items():
            folder = os.path.join(directory, domain)
            if wanted["new"] and self._task.check_mode:
                pending.append("%s %s" % (domain, wanted["new"]))
                continue
            try:
                if wanted["new"]:
                    made_now = make_key(folder, wanted["new"], checked["rspamd_dkim_key_bits"])
                    made += ["%s %s" % (domain, wanted["new"])] if made_now else []
                keys[domain] = {"signing": wanted["signing"], "retired": wanted["retired"],
                                "keys": [read_key(folder, selector) for selector in wanted["published"]]}
            except (OSError, ValueError) as error:
                return dict(result, failed=True, msg="rspamd_dkim_controller_dir: the DKIM key of %s in %s cannot be "
                            "made or read: %s" % (domain, folder, error))
        return dict(result, changed=bool(made), domains=keys, made=made, pending=pending)


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def existing_selectors(folder):
    """The selectors of the keys in a domain's folder (none while it does not exist)."""
    if not os.path.isdir(folder):
        return []
    return [name[:-len(SUFFIX)] for name in os.listdir(folder)
            if name.endswith(SUFFIX) and selector_date(name[:-len(SUFFIX)])]


def make_key(folder, selector, bits):
    """Write a new RSA key as FOLDER/SELECTOR.key (0600), unless another host's task of this run
    made it first: the key is written to a temporary file and linked into place, which fails
    when the name exists. Returns whether this call made it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    os.makedirs(folder, mode=0o700, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=int(bits))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".new-")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(pem)
            output.flush()
            os.fsync(output.fileno())
        try:
            os.link(temporary, os.path.join(folder, selector + SUFFIX))
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)


def read_key(folder, selector):
    """{selector, src, public_key} of a key file (a symbolic link is refused)."""
    from cryptography.hazmat.primitives import serialization

    path = os.path.join(folder, selector + SUFFIX)
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(handle, "rb") as source:
        pem = source.read()
    public = serialization.load_pem_private_key(pem, password=None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"selector": selector, "src": path, "public_key": base64.b64encode(public).decode("ascii")}
