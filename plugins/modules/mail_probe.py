#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_probe
short_description: Send a test message over SMTP and optionally wait until it is delivered to a Maildir
version_added: 0.1.0
description:
  - A smoke test for any playbook. From the managed host, submits one message to an SMTP
    server with plain SMTP, STARTTLS or implicit TLS (smtps), optionally verifying the
    server's certificate and authenticating, and reports the TLS session and the server's
    final reply.
  - With O(maildir), then waits until the message (found by its unique C(Message-ID))
    appears in C(MAILDIR/new) or C(MAILDIR/cur), and reports where and how fast.
  - Fails with a one-line message quoting the server's own reply when the server refuses
    the connection, the sender, the recipient or the message, when TLS fails (for example
    C(certificate verify failed) and its reason), and when the message does not arrive in
    the Maildir within O(timeout) seconds. A failed probe still returns what it found out,
    such as RV(message_id), RV(tls) and RV(server_reply).
  - This is a probe. It never reports C(changed), although each run (outside check mode)
    sends a new message.
  - Uses only the Python standard library on the managed host.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is sent; the options are checked (including that O(ca_file)
        can be read) and the task is reported as skipped, with C(changed=false).
  diff_mode:
    support: N/A
    details:
      - The probe manages no state, so there is nothing to show a diff of; it only sends a message.
  idempotent:
    support: full
    details:
      - Always C(changed=false), although every run sends a new message.
options:
  server:
    description: Host name or IP address of the SMTP server to submit to.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port of the SMTP server, for example C(25), C(587) (submission) or C(465) (submissions).
    type: int
    default: 25
  security:
    description:
      - V(plain) sends without TLS, V(starttls) upgrades the connection with C(STARTTLS) and
        fails if the server does not offer it, V(smtps) starts with TLS (implicit TLS).
      - Defaults to V(smtps) when O(port=465), otherwise to V(starttls).
    type: str
    choices: [plain, starttls, smtps]
  ca_file:
    description:
      - PEM file with the certificate authorities to verify the server's certificate with.
      - Only with O(security=starttls) or O(security=smtps).
    type: path
  verify:
    description:
      - Whether to verify the server's certificate chain, against O(ca_file), or against
        the system's certificate authorities when O(ca_file) is not given.
      - Defaults to V(true) when O(ca_file) is given, otherwise to V(false) (TLS is still
        used, but any certificate is accepted, as an MTA does by default).
      - The name in the certificate is checked only when O(server_name) is given.
      - With O(username), the chain and the name (O(server_name), else O(server)) are always
        verified, so credentials never go to a server nobody checked; V(false) is refused then.
    type: bool
  server_name:
    description:
      - Name to send as TLS SNI and, with certificate verification, to check the server's
        certificate against.
      - Without it, the name in the certificate is not checked, and O(server) is sent as
        SNI when it is a host name.
    type: str
  sender:
    description:
      - Envelope sender and C(From) address.
      - Defaults to C(root@) followed by the managed host's fully qualified name.
    type: str
  recipient:
    description: The one envelope recipient and C(To) address.
    type: str
    required: true
  subject:
    description:
      - Subject of the message.
      - Defaults to C(mail_probe TOKEN from HOST), where C(TOKEN) is the unique part of RV(message_id).
    type: str
  username:
    description:
      - Authenticate with SMTP AUTH as this user, after TLS is up.
      - Needs O(password), and O(security=starttls) or O(security=smtps).
    type: str
  password:
    description: Password for O(username).
    type: str
  maildir:
    description:
      - Maildir the message should be delivered to, for example C(/home/alice/Maildir).
      - When given, the module waits until a file containing the message's C(Message-ID)
        appears in its C(new) or C(cur) directory. The Maildir may be missing at first
        (Postfix makes it on the first delivery).
    type: path
  timeout:
    description:
      - Seconds to wait for each answer from the server and, with O(maildir), for the
        delivery after the server has accepted the message.
    type: int
    default: 30
notes:
  - The module runs on the managed host, so O(server=127.0.0.1) probes the host's own MTA.
  - Certificates are verified as OpenSSL does by default, without Python 3.13's stricter
    X.509 checks, as an MTA would verify them.
seealso:
  - module: postmaster.mail.maildir
  - name: RFC 3207 (SMTP over TLS)
    description: How C(STARTTLS) upgrades an SMTP session.
    link: https://www.rfc-editor.org/rfc/rfc3207
"""

EXAMPLES = r"""
- name: Check that local mail reaches alice's Maildir
  postmaster.mail.mail_probe:
    recipient: alice@localhost
    maildir: /home/alice/Maildir
  register: mail_probe_local

- name: Show how long delivery took
  ansible.builtin.debug:
    msg: "{{ mail_probe_local.queue_id }} delivered in {{ mail_probe_local.delivery_time }} s"

- name: Submit through the submission port with a verified certificate and SMTP AUTH
  postmaster.mail.mail_probe:
    server: mail.example.org
    port: 587
    ca_file: /etc/ssl/certs/ca-certificates.crt
    server_name: mail.example.org
    username: alice
    password: "{{ vault_alice_password }}"
    recipient: bob@example.org

- name: Implicit TLS on port 465 (security defaults to smtps there)
  postmaster.mail.mail_probe:
    server: mail.example.org
    port: 465
    verify: true
    server_name: mail.example.org
    recipient: postmaster@example.org

- name: The server must refuse to relay for strangers
  postmaster.mail.mail_probe:
    security: plain
    recipient: someone@example.net
  register: mail_probe_relay
  failed_when: "'Relay access denied' not in mail_probe_relay.msg | default('')"
"""

RETURN = r"""
msg:
  description: What was done, in one line.
  returned: always
  type: str
  sample: sent to alice@localhost through 127.0.0.1:25 with TLSv1.3, queued as 4dQ5Yx1xYzz9, delivered in 0.412 s
skipped:
  description: True in check mode, when nothing was sent.
  returned: in check mode
  type: bool
  sample: true
security:
  description: How the connection was (or in check mode would be) made, after the port-based default.
  returned: always
  type: str
  sample: starttls
message_id:
  description: The unique C(Message-ID) of the message sent, with its angle brackets.
  returned: always, null in check mode
  type: str
  sample: <0f3c1e5a8b7d4e6f9a2b3c4d5e6f7a8b.mail-probe@mail.example.org>
tls:
  description: The TLS session. Null with O(security=plain) and in check mode.
  returned: always
  type: dict
  contains:
    protocol:
      description: TLS version.
      type: str
      sample: TLSv1.3
    cipher:
      description: Cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
    bits:
      description: Secret bits of the cipher.
      type: int
      sample: 256
    verified:
      description: Whether the certificate chain was verified (see O(verify)).
      type: bool
      sample: true
  sample: {protocol: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384, bits: 256, verified: true}
server_reply:
  description: The server's final reply to the message (after C(DATA)), code and text on one line.
  returned: always, null in check mode
  type: str
  sample: "250 2.0.0 Ok: queued as 4dQ5Yx1xYzz9"
queue_id:
  description: Queue ID in RV(server_reply) (C(queued as ID), or C(id=ID)), null when there is none.
  returned: always
  type: str
  sample: 4dQ5Yx1xYzz9
delivered_path:
  description: File the message was found in. Null without O(maildir).
  returned: always
  type: str
  sample: /home/alice/Maildir/new/1764064800.V801I2a4M1234.mail
delivery_time:
  description:
    - Seconds from the server's acceptance of the message until the file was found (polled
      every 0.1 s). Null without O(maildir).
  returned: always
  type: float
  sample: 0.412
elapsed:
  description: Seconds the whole probe took, delivery included. Null in check mode.
  returned: always
  type: float
  sample: 0.538
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._mail_probe import (
    SECURITY_CHOICES,
    MailProbeError,
    Probe,
    default_security,
    tls_context,
)


def check_options(module, params):
    """The security level to use, after refusing contradictory options."""
    security = params["security"] or default_security(params["port"])
    if not 1 <= params["port"] <= 65535:
        module.fail_json(msg="mail_probe: port must be between 1 and 65535, not %s" % params["port"])
    if params["timeout"] < 1:
        module.fail_json(msg="mail_probe: timeout must be at least 1 second")
    if security == "plain":
        if params["username"]:
            module.fail_json(msg="mail_probe: username and password are sent only over TLS: "
                             "set security to starttls or smtps")
        tls_only = [name for name in ("ca_file", "server_name") if params[name]]
        if params["verify"]:
            tls_only.append("verify")
        if tls_only:
            module.fail_json(msg="mail_probe: %s apply only to TLS: set security to starttls or smtps"
                             % ", ".join(tls_only))
    elif params["username"] and params["verify"] is False:
        module.fail_json(msg="mail_probe: username and password go only to a server whose certificate is "
                         "verified: remove verify: false and give ca_file (or rely on the system's CAs)")
    return security


def verification(params):
    """(verify, check_name): credentials are sent only to a server whose chain and name are
    verified (the name is server_name, else server); otherwise as the options say."""
    if params["username"]:
        return True, True
    return params["verify"], bool(params["server_name"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type="str", default="127.0.0.1"),
            port=dict(type="int", default=25),
            security=dict(type="str", choices=list(SECURITY_CHOICES)),
            ca_file=dict(type="path"),
            verify=dict(type="bool"),
            server_name=dict(type="str"),
            sender=dict(type="str"),
            recipient=dict(type="str", required=True),
            subject=dict(type="str"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            maildir=dict(type="path"),
            timeout=dict(type="int", default=30),
        ),
        required_together=[("username", "password")],
        supports_check_mode=True,
    )
    params = module.params
    security = check_options(module, params)
    try:
        context = None
        if security != "plain":
            context = tls_context(params["ca_file"], *verification(params))
        if module.check_mode:
            module.exit_json(
                changed=False, skipped=True, msg="check mode: no message sent", security=security,
                message_id=None, tls=None, server_reply=None, queue_id=None,
                delivered_path=None, delivery_time=None, elapsed=None,
            )
        probe = Probe(
            server=params["server"], port=params["port"], security=security, context=context,
            server_name=params["server_name"], sender=params["sender"],
            recipient=params["recipient"], subject=params["subject"],
            username=params["username"], password=params["password"],
            maildir=params["maildir"], timeout=params["timeout"],
        )
        result = probe.run()
    except MailProbeError as exc:
        module.fail_json(msg=str(exc), changed=False, **exc.result)
    module.exit_json(changed=False, msg=probe.summary(), **result)


if __name__ == "__main__":
    main()
