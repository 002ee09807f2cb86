#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_policy
short_description: Write a Postfix TLS policy table (smtp_tls_policy_maps) from checked policies
version_added: 0.1.0
description:
  - Checks every per-destination TLS policy the way Postfix's SMTP client reads it, then
    writes and builds the table with the same code as M(postmaster.mail.postmap), which
    writes the source file only when it changes, runs C(postmap) only when needed, and
    stages both files and renames them into place.
  - A policy Postfix would reject at delivery time (and then defer the mail) is refused
    here with a one-line message, and nothing is written. For example C(match) with level
    V(encrypt), C(tafile) with level V(dane), a fingerprint of the wrong length, or level
    V(dane) without DNSSEC. White space, commas, braces, line breaks and other control
    characters in any value are refused, as they would end an attribute or a table line.
  - Returns RV(map_reference), the C(type:path) to put in C(smtp_tls_policy_maps).
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.config_dir
  - postmaster.mail.attributes.lookup_table
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  path:
    description:
      - Absolute path of the table's source file, for example C(/etc/postfix/tls_policy).
        The directory must exist.
    type: path
    required: true
  policies:
    description:
      - One policy per next-hop destination, written in the order given. The table holds
        exactly these policies.
      - Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      destination:
        description:
          - The next-hop destination as Postfix looks it up, one of V(example.org) (the
            domain), V(.example.org) (its subdomains), V([mail.example.org]),
            V([mail.example.org]:587) or V(example.org:587). An IP address goes in
            brackets, for example V([192.0.2.10]:25); an IPv6 scope (C(%eth0)) is refused.
        type: str
        required: true
      level:
        description:
          - TLS security level for the destination.
          - V(dane) and V(dane-only) need DNSSEC, see O(dnssec_available).
        type: str
        required: true
        choices: [none, may, encrypt, dane, dane-only, fingerprint, verify, secure]
      match:
        description:
          - With level V(verify) or V(secure), host name patterns (V(example.org), or
            V(.example.org) for its subdomains) and the strategies V(nexthop),
            V(dot-nexthop) and V(hostname). They are written joined by C(:).
          - With level V(fingerprint), certificate or public key fingerprints, each as hex
            byte pairs separated by C(:), all of one digest (32 bytes for sha256, the default
            of C(smtp_tls_fingerprint_digest) from Postfix 3.6; 16 for md5; 20 for sha1; 64
            for sha512). They are written joined by C(|).
          - Not allowed with other levels.
        type: list
        elements: str
      protocols:
        description:
          - TLS protocols, overriding C(smtp_tls_mandatory_protocols) (or
            C(smtp_tls_protocols) with V(may)), for example V(>=TLSv1.2) (Postfix 3.6 or
            later) or V([!SSLv2, !SSLv3, !TLSv1, !TLSv1.1]). Written joined by C(:).
        type: list
        elements: str
      ciphers:
        description:
          - Cipher grade, overriding C(smtp_tls_mandatory_ciphers) (or C(smtp_tls_ciphers) with V(may)).
          - Quote V(null) in YAML, which otherwise reads it as no value.
        type: str
        choices: [export, low, medium, high, "null"]
      exclude:
        description: OpenSSL cipher names to exclude, for example V([aNULL, RC4]). Written joined by C(:).
        type: list
        elements: str
      tafile:
        description:
          - Absolute path of a PEM file with trust anchors for this destination (levels
            V(verify) and V(secure) only). A warning is given when the file does not exist yet.
        type: str
      servername:
        description:
          - The name sent with SNI, a host name, or V(hostname) or V(nexthop) (Postfix 3.4 or later).
        type: str
      connection_reuse:
        description: Whether to reuse TLS connections to this destination (Postfix 3.4 or later).
        type: bool
  dnssec_available:
    description:
      - Whether the Postfix SMTP client can make DNSSEC-validated lookups.
      - With V(false), policies with level V(dane) or V(dane-only) are refused unless
        C(smtp_dns_support_level) is V(dnssec) in main.cf on the managed host.
      - Set V(true) when main.cf gets that setting later, or a master.cf transport sets it.
    type: bool
    default: false
  mode:
    description:
      - Mode of the source file and the built file, as an octal string such as C("0644").
    type: raw
    default: "0644"
notes:
  - Postfix looks up the full next-hop, with brackets and port, and for a bare domain
    also its parent domains as C(.domain). A policy for V(example.org) does not apply to
    mail relayed through V([example.org]:587).
  - C(smtp_tls_fingerprint_digest) of the managed host is read, and a warning is given when
    fingerprints do not have its length.
seealso:
  - name: smtp_tls_policy_maps
    description: The policy table format and the levels.
    link: https://www.postfix.org/postconf.5.html#smtp_tls_policy_maps
  - name: TLS_README
    description: Postfix's TLS security levels.
    link: https://www.postfix.org/TLS_README.html#client_tls_policy
  - module: postmaster.mail.postmap
"""

EXAMPLES = r"""
- name: Require verified TLS to the relay host and to a partner, opportunistic DANE elsewhere
  postmaster.mail.tls_policy:
    path: /etc/postfix/tls_policy
    policies:
      - destination: "[smtp.example.net]:587"
        level: secure
        match: [nexthop]
        protocols: [">=TLSv1.2"]
      - destination: partner.example
        level: verify
        match: [nexthop, dot-nexthop]
        ciphers: high
      - destination: .partner.example
        level: encrypt
      - destination: "[backup.example.org]"
        level: fingerprint
        match:
          - "6E:BD:4C:48:C0:3E:D1:7D:4E:7C:95:E9:C7:2A:4E:61:1D:C3:A0:45:1B:3F:8D:28:9B:63:E5:64:9C:92:E5:EB"
  register: postfix_tls_policy

- name: Use the table
  postmaster.mail.postconf:
    parameters:
      smtp_tls_policy_maps: "{{ postfix_tls_policy.map_reference }}"
  notify: Reload postfix

- name: DANE for a domain, on a host whose main.cf sets smtp_dns_support_level later in the play
  postmaster.mail.tls_policy:
    path: /etc/postfix/tls_policy_dane
    type: lmdb
    dnssec_available: true
    policies:
      - destination: example.org
        level: dane-only
"""

RETURN = r"""
path:
  description: Path of the source file.
  returned: always
  type: str
  sample: /etc/postfix/tls_policy
type:
  description: The table type used, O(type) or the host's C(default_database_type).
  returned: always
  type: str
  sample: hash
map_reference:
  description: The table as main.cf refers to it, C(type:path), for C(smtp_tls_policy_maps).
  returned: always
  type: str
  sample: hash:/etc/postfix/tls_policy
rebuilt:
  description: Whether C(postmap) built the table (in check mode, whether it would).
  returned: always
  type: bool
  sample: true
diff:
  description: The source file before and after.
  returned: in diff mode, when the source file changes
  type: dict
  sample:
    before: ""
    after: "# Managed by postmaster.mail.tls_policy: changes made here are overwritten.\n[smtp.example.net]:587 secure match=nexthop\n"
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import parse_version
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (
    HEADER,
    TABLE_ARGUMENT_SPEC,
    Table,
    TableError,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import (
    POLICY_OPTIONS,
    TlsPolicyError,
    digest_warnings,
    policy_entries,
)

HOST_PARAMETERS = ("mail_version", "smtp_dns_support_level", "smtp_tls_fingerprint_digest")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TABLE_ARGUMENT_SPEC,
            mode=dict(type="raw", default="0644"),
            policies=dict(type="list", elements="dict", options=POLICY_OPTIONS),
            dnssec_available=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ["policies"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        table = Table.from_params(module)
        entries = []
        if params["state"] == "present":
            policies = [{name: value for name, value in policy.items() if value is not None}
                        for policy in params["policies"]]
            host = table.parameters(HOST_PARAMETERS)
            try:
                entries = policy_entries(policies, params["dnssec_available"], host["smtp_dns_support_level"],
                                         parse_version(host["mail_version"]))
            except TlsPolicyError as exc:
                raise TlsPolicyError("policies: %s" % exc) from None
            for warning in digest_warnings(policies, host["smtp_tls_fingerprint_digest"]):
                module.warn(warning)
            for policy in policies:
                if policy.get("tafile") and not os.path.isfile(policy["tafile"]):
                    module.warn("policy for %s: tafile %s does not exist yet; Postfix defers mail to this "
                                "destination until it does" % (policy["destination"], policy["tafile"]))
        result = table.manage(entries, HEADER % "postmaster.mail.tls_policy")
    except (TableError, TlsPolicyError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the table %s: %s" % (params["path"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
