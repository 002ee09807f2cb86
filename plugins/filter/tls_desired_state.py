# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tls_desired_state
short_description: The desired state of the postmaster.mail.tls role, from its settings and the control node's certificates
version_added: 0.1.0
description:
  - Decides, on the control node, what the postmaster.mail.tls role does - whether the certificates it issued are
    still good for its settings (then no module that makes or checks keys, requests or certificates runs), which
    certificate is due for renewal, the facts it publishes, the files it installs on the host - and the desired
    state it gives M(postmaster.mail.drift_check), so the role's slow path and its check take the same values.
  - Reads the private CA's and the host's keys, certificates and chain files on the control node, when it needs
    them; certificates are read with the Python C(cryptography) library, which community.crypto needs too.
  - The chain files and C(ca.key) hold private keys. Their digests are only in RV(_value.secret_digests), never
    in RV(_value.drift_spec), whose values travel as a logged module argument.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - The role's settings, every C(tls_*) variable of the role's C(defaults/main.yml) as name and value.
    type: dict
    required: true
  host:
    description: The host's inventory name (the control node keeps its files in O(_input.tls_controller_dir)/hosts/HOST).
    type: str
    required: true
  published:
    description:
      - The chain files the role published in this run, by kind (C(server), C(client)), each as C(file) (on the
        host) and C(source) (on the control node); a kind without C(source) is not published yet.
    type: dict
  check_mode:
    description: Whether the play runs in check mode (files not made yet on the control node are then listed).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Whether the host's certificates are still good
  ansible.builtin.debug:
    msg: "{{ (tls_settings | postmaster.mail.tls_desired_state(host=inventory_hostname)).fresh }}"
  vars:
    tls_settings:
      tls_ca_mode: private
      tls_controller_dir: /srv/pki
      # ... every other tls_* setting of the role
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    kinds:
      description: The certificates the role issues or checks, C(server) and, when asked for, C(client).
      type: list
      elements: str
    controller_host_dir:
      description: The host's directory on the control node.
      type: str
    ca_certificate_source:
      description: The CA certificate installed on the host as C(ca.pem).
      type: str
    subject_alt_names:
      description: The server certificate's subjectAltNames, C(DNS:) names first, then C(IP:) addresses.
      type: list
      elements: str
    fresh:
      description: Whether every certificate the private CA issued is still good for these settings.
      type: bool
    stale_reason:
      description: Why they are not (null when RV(_value.fresh)).
      type: str
    issued:
      description:
        - When RV(_value.fresh), the facts each certificate publishes, by kind - C(chain_file), C(chain_source),
          C(not_after), C(certificate_sha256), C(public_key_sha256), C(tlsa_record).
      type: dict
    renewal_due:
      description: By kind, whether the certificate must be signed again (forced, missing or within O(_input.tls_renew_days)).
      type: dict
    host_files:
      description: The files installed on the host, each as C(path), C(source) and C(mode); empty until the role published the chain files.
      type: list
      elements: dict
    missing_sources:
      description: In check mode, the files of RV(_value.host_files) not made yet on the control node.
      type: list
      elements: str
    preview_message:
      description: What a real run would make on the control node, for a preview.
      type: str
    drift_spec:
      description: The desired state for M(postmaster.mail.drift_check), or null until every file to install exists.
      type: dict
    secret_digests:
      description: SHA-256 digest of each file that holds a private key, by path on the host, for drift_check's no_log option only.
      type: dict
"""

import datetime
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._tls_model import desired_state


class ControllerFiles(object):
    """The control node's files, read when the model asks for one (None: no such file)."""

    def __init__(self):
        self._read = {}

    def get(self, path):
        if path not in self._read:
            try:
                with open(os.path.expanduser(str(path)), "rb") as handle:
                    self._read[path] = handle.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                self._read[path] = None
        return self._read[path]


def tls_desired_state(settings, host, published=None, check_mode=False):
    settings = dict(settings, host=host, published=published or {})
    try:
        return desired_state(settings, ControllerFiles(), datetime.datetime.now(datetime.timezone.utc),
                             check_mode=bool(check_mode))
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise AnsibleFilterError("tls: cannot decide the desired state: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"tls_desired_state": tls_desired_state}
