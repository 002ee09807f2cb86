# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dovecot_desired_state
short_description: What Dovecot (IMAP, LMTP, SASL for Postfix) must look like on a host, from its settings and version
version_added: 0.1.0
description:
  - Decides, on the control node, everything a Dovecot server of this collection is made of - packages,
    the service, the whole C(dovecot.conf) (nothing from Debian's C(conf.d/) is included), the virtual
    users' passwd-file - and the desired state it gives M(postmaster.mail.drift_check).
  - Writes the syntax the host's Dovecot reads - 2.3 (bullseye, bookworm) or 2.4 (trixie).
  - IMAP listens on 993 (TLS from the first byte) and on 143, where no login is taken before STARTTLS;
    TLS 1.2 or later with the key and chain file the postmaster.mail.tls role publishes.
  - Also returns what Postfix must add for authenticated submission (C(smtpd_sasl_type=dovecot) through
    the auth socket in Postfix's queue directory, the options of its submission and smtps services) and
    for delivery through LMTP, as one public contract.
  - Virtual users give a password hash made on the control node (C(doveadm pw -s SHA512-CRYPT) or
    Ansible's C(password_hash('sha512', salt)) filter with a fixed salt); only ARGON2ID, SHA512-CRYPT and
    BLF-CRYPT are taken, and a clear password is refused. The passwd-file's text is in RV(_value.files);
    its digest only in RV(_value.secret_digests), never in RV(_value.drift_spec).
  - Fails with one line that names the role variable, what is wrong and how to fix it, and never shows a
    password hash.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - "The settings, as C(dovecot_*) variable names and values; a setting not given takes its default:
        C(dovecot_packages) (V([dovecot-core]); C(dovecot-imapd) and C(dovecot-lmtpd) are added as needed),
        C(dovecot_service_enabled) (V(true)), C(dovecot_imap_enabled) (V(true)), C(dovecot_lmtp_enabled)
        (V(false)), C(dovecot_system_users) (PAM and the system's users, V(true)), C(dovecot_users)
        (virtual users, V([])), C(dovecot_quota_default) (V(null): no quota), C(dovecot_mail_location)
        (V(~/Maildir)), C(dovecot_tls_chain_file) (required with IMAP), C(dovecot_tls_key_file) (V(null):
        the chain file holds the key), C(dovecot_tls_min_protocol) (V(TLSv1.2)), C(dovecot_tls_ciphers)
        (Mozilla intermediate), C(dovecot_listen) (V([*, ::])), C(dovecot_auth_mechanisms)
        (V([plain, login])), C(dovecot_postfix_queue_dir) (V(/var/spool/postfix)), C(dovecot_auth_socket)
        (V(/var/spool/postfix/private/auth)), C(dovecot_lmtp_socket)
        (V(/var/spool/postfix/private/dovecot-lmtp)), C(dovecot_postfix_user) and C(dovecot_postfix_group)
        (V(postfix)), C(dovecot_virtual_owner) (V(vmail)), C(dovecot_virtual_home_dir) (V(/var/vmail)),
        C(dovecot_sender_domains) (V([])), C(dovecot_config_file) (V(/etc/dovecot/dovecot.conf)),
        C(dovecot_users_file) (V(/etc/dovecot/postmaster-users)), C(dovecot_postfix_config_dir)
        (V(/etc/postfix))."
      - "Each of C(dovecot_users) is C({name, password_hash, quota, uid, gid, home, senders}): C(name) a
        lower-case login (V(alice) or V(alice@example.org)); C(password_hash) as C({SCHEME}hash) or a bare
        V($6$...), V($2y$...) or V($argon2id$...); C(quota) a size such as V(500M) (default
        C(dovecot_quota_default)); C(uid), C(gid) (default C(dovecot_virtual_owner)) and C(home) (default
        C(dovecot_virtual_home_dir)/NAME); C(senders) the addresses (V(alice@example.org)) or domains
        (V(@example.org)) the login may use as envelope sender (default the name, when it is an address)."
    type: dict
    required: true
  facts:
    description:
      - What the host's Dovecot is, as C({version}) (V(2.3.13), V(2.3.19.1), V(2.4.1-4)); empty or without
        C(version) while Dovecot is not installed, which leaves the files out (RV(_value.info_wanted)).
    type: dict
  read_versions:
    description:
      - "Installed package versions read on the host in this run (M(postmaster.mail.drift_check)'s
        RV(postmaster.mail.drift_check#module:package_versions)), as C({dovecot-core: VERSION}). The first
        of O(read_versions), O(play_versions) and the file O(cache_file) that names C(dovecot-core) gives
        the version (its Debian epoch and revision left aside), unless O(facts) gives one."
      - "The version taken goes into RV(_value.drift_spec) as C(package_versions), so the check verifies
        on the host that a version from the play or the cache is still the installed one."
    type: dict
  play_versions:
    description: The fact C(postmaster_mail_package_versions) of the host (versions an earlier task of the play read).
    type: dict
  cache_file:
    description: The control node's JSON file of the host's package versions (written by M(postmaster.mail.drift_check)'s action).
    type: path
"""

EXAMPLES = r"""
- name: Write dovecot.conf as the model decides
  ansible.builtin.copy:
    content: "{{ (dovecot_state.files | selectattr('secret', 'false') | first).content }}"
    dest: /etc/dovecot/dovecot.conf
    owner: root
    group: root
    mode: "0644"
  vars:
    dovecot_state: "{{ dovecot_settings | postmaster.mail.dovecot_desired_state({'version': '2.3.19'}) }}"
    dovecot_settings:
      dovecot_tls_chain_file: "{{ tls_server_chain_file }}"
      dovecot_lmtp_enabled: true
      dovecot_users:
        - name: bob@example.org
          password_hash: "{{ vault_bob_password | password_hash('sha512', vault_bob_salt) }}"
          quota: 2G
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    packages:
      description: Packages to install.
      type: list
      elements: str
    services:
      description: The C(dovecot) service as C({name, enabled, active}).
      type: list
      elements: dict
    version_family:
      description: V(2.3) or V(2.4), the syntax the files are written in; null while the version is unknown.
      type: str
    info_wanted:
      description: Whether the version is unknown; install the packages, read the version, ask again.
      type: bool
    files:
      description:
        - The files to write, each C({path, content, mode, owner, group, secret, sha256}) - C(dovecot.conf),
          and the virtual users' passwd-file when there are any (C(secret=true)).
        - Pass a secret file only to a task with C(no_log).
      type: list
      elements: dict
    unused_files:
      description: Paths to remove - the passwd-file once there are no virtual users.
      type: list
      elements: str
    accounts:
      description: The system user and its home directory that virtual users without C(uid)/C(gid) belong to, as C({name, home}), or null.
      type: dict
    drift_spec:
      description: The desired state for M(postmaster.mail.drift_check), or null while RV(_value.info_wanted); secret files without their digest.
      type: dict
    secret_digests:
      description: SHA-256 digest of each secret file, by path, for the O(postmaster.mail.drift_check#module:secret_digests) option (never logged) only.
      type: dict
    postfix:
      description:
        - "What Postfix adds, a public contract for the postmaster.mail.postfix role: C(main_cf) (main.cf parameters;
          a null value removes one), C(submission_options) (options of master.cf's submission and smtps services -
          AUTH after TLS, nothing accepted before login, the sender must be the login's) and C(tables)
          (C(sender_logins), a regexp table with C(source); with LMTP and users named by address,
          C(virtual_mailboxes) with C(entries))."
      type: dict
"""

import json
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import DovecotSettingsError, desired_state

# The package whose installed version is Dovecot's.
VERSION_PACKAGE = "dovecot-core"


def dovecot_desired_state(settings, facts=None, read_versions=None, play_versions=None, cache_file=None):
    package_version = None
    if not (facts or {}).get("version"):
        package_version = select_version(read_versions, play_versions, read_cache(cache_file) if cache_file else None)
        facts = {"version": upstream_version(package_version)} if package_version else {}
    try:
        state = desired_state(settings, facts or {})
    except DovecotSettingsError as exc:
        raise AnsibleFilterError(str(exc))
    if package_version and state["drift_spec"] is not None:
        state["drift_spec"]["package_versions"] = {VERSION_PACKAGE: package_version}
    return state


def select_version(*sources):
    """The version of dovecot-core the first source that names it gives ({name: version} each)."""
    for source in sources:
        if isinstance(source, dict) and isinstance(source.get(VERSION_PACKAGE), str) and source[VERSION_PACKAGE]:
            return source[VERSION_PACKAGE]
    return None


def upstream_version(package_version):
    """A Debian version without its epoch: 1:2.3.19.1+dfsg1-2.1+deb12u1 gives 2.3.19.1+dfsg1-2.1+deb12u1."""
    return package_version.partition(":")[2] if ":" in package_version.split("-")[0] else package_version


def read_cache(path):
    """The versions a cache file holds, or None when there is none to read."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


class FilterModule(object):
    def filters(self):
        return {"dovecot_desired_state": dovecot_desired_state}
