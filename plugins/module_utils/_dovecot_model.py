# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired state of Dovecot (IMAP, LMTP, and the SASL service Postfix asks), decided in one place.

`desired_state(settings, facts)` takes the future postmaster.mail.dovecot role's settings
(every `dovecot_*` variable, see DEFAULTS) and what the host's Dovecot is (facts
`{"version": "2.3.13"}`, or {} while nobody has read it) and returns what the role writes:
packages, the service, the files (dovecot.conf and the users' passwd-file, with text, mode,
owner and digest), the desired state the drift check compares, and what Postfix must add for
authenticated submission and LMTP delivery (`postfix`, a public contract the postfix role
takes as it is).

Why one dovecot.conf of ours and no file under conf.d/: Debian's dovecot.conf includes
conf.d/*.conf, whose 10-auth.conf includes auth-system.conf.ext, which declares the PAM passdb;
a passdb cannot be undeclared by a later file, so system users could not be switched off, and
Debian's defaults differ between releases (mbox in /var/mail on trixie, a snakeoil certificate,
protocols from /usr/share/dovecot/protocols.d). Dovecot 2.4 also wants dovecot_config_version
as the first setting of dovecot.conf. So the model writes the whole dovecot.conf, which
includes nothing: what `doveconf -n` shows is what this file says, on every release. The
price: dovecot.conf is a dpkg conffile, so an upgrade of dovecot-core keeps ours and leaves
Debian's new version beside it as dovecot.conf.dpkg-dist.

Passwords: the clear password never reaches the host, nor the model. Each virtual user gives
`password_hash`, made on the control node: `doveadm pw -s SHA512-CRYPT` (or -s ARGON2ID,
-s BLF-CRYPT), or Ansible's `password_hash('sha512', salt)` filter with a fixed salt per user
so that re-runs write the same file (a vault-kept salt, or one derived from the inventory
host name and a vault secret). Only strong schemes are taken: ARGON2ID, SHA512-CRYPT ($6$)
and BLF-CRYPT ($2y$/$2b$); a bare crypt string ($6$..., $2y$..., $argon2id$...) gets its
{SCHEME} prefix here. A `password` key is refused: hashing on the control node needs a salt
that is stable across runs and secret, which the play, not this model, must keep. The
passwd-file's text and digest are secrets: the drift spec marks the file secret, its digest
is only in `secret_digests` (the drift check's no_log option), and no error message shows a
hash or a password.

Dovecot 2.3 (bullseye 2.3.13, bookworm 2.3.19) and 2.4 (trixie) read different syntax; the
model writes what each reads (see render_config): 2.4 needs dovecot_config_version and
dovecot_storage_version first, mail_driver + mail_path instead of mail_location,
ssl_server_cert_file/ssl_server_key_file (file paths) instead of ssl_cert/ssl_key = <file,
auth_allow_cleartext instead of disable_plaintext_auth, named passdb/userdb blocks with
passwd_file_path instead of driver/args, %{user | username} instead of %n,
`mail_plugins { quota = yes }` instead of a list, and per-user quota as the userdb field
quota_storage_size instead of quota_rule.

Validation: `DovecotSettingsError` is one line that names the role variable (as
`dovecot_users[2].password_hash`), what is wrong and how to fix it, and never shows a hash or
a password. Every value that reaches a configuration file is checked for its syntax; line
breaks and other control characters are refused, never rewritten.

Pure logic (no files, no processes, no Ansible): the postmaster.mail.dovecot_desired_state
filter runs it on the control node, and unit tests reach every branch.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

from ansible_collections.postmaster.mail.plugins.module_utils._pending import reload_pending
from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS

# The role's settings and their defaults (the future roles/dovecot/defaults/main.yml).
DEFAULTS = {
    "dovecot_packages": ["dovecot-core"],
    "dovecot_service_enabled": True,
    "dovecot_imap_enabled": True,
    "dovecot_lmtp_enabled": False,
    "dovecot_system_users": True,
    "dovecot_users": [],
    "dovecot_quota_default": None,
    "dovecot_mail_location": "~/Maildir",
    "dovecot_tls_chain_file": None,
    "dovecot_tls_key_file": None,
    "dovecot_tls_min_protocol": "TLSv1.2",
    # Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3 suites are OpenSSL's defaults).
    "dovecot_tls_ciphers": ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                            "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"),
    # Mozilla's "intermediate" key exchange groups (OpenSSL's defaults add X448 and secp521r1).
    "dovecot_tls_curves": "X25519:prime256v1:secp384r1",
    "dovecot_listen": ["*", "::"],
    "dovecot_auth_mechanisms": ["plain", "login"],
    "dovecot_postfix_queue_dir": "/var/spool/postfix",
    "dovecot_auth_socket": "/var/spool/postfix/private/auth",
    "dovecot_lmtp_socket": "/var/spool/postfix/private/dovecot-lmtp",
    "dovecot_postfix_user": "postfix",
    "dovecot_postfix_group": "postfix",
    "dovecot_virtual_owner": "vmail",
    "dovecot_virtual_home_dir": "/var/vmail",
    "dovecot_sender_domains": [],
    "dovecot_config_file": "/etc/dovecot/dovecot.conf",
    "dovecot_users_file": "/etc/dovecot/postmaster-users",
    "dovecot_postfix_config_dir": "/etc/postfix",
}
USER_KEYS = ("name", "password_hash", "quota", "uid", "gid", "home", "senders")
TLS_PROTOCOLS = ("TLSv1.2", "TLSv1.3")
AUTH_MECHANISMS = ("plain", "login")
# Dovecot's auth_username_chars (its default) less upper case, which auth_username_format
# lowers before every lookup: a name outside this set could never log in.
USER_NAME = re.compile(r"^[a-z0-9._-]{1,64}(@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*)?\Z")
DOMAIN = re.compile(r"^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*\Z")
SYSTEM_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")
PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*\Z")
# Paths safe in dovecot.conf, the passwd-file (no ':') and Postfix's main.cf and master.cf.
PATH = re.compile(r"^/[A-Za-z0-9._+,=@~/-]{0,4094}\Z")
MAIL_LOCATION = re.compile(r"^~/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*\Z")
LISTEN = re.compile(r"^(\*|::|[0-9.]{7,15}|[0-9A-Fa-f:]{2,39})\Z")
CIPHERS = re.compile(r"^[A-Za-z0-9!+@:_-]{1,2000}\Z")
CURVES = re.compile(r"^[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_-]{1,64}){0,31}\Z")
SIZE = re.compile(r"^([1-9][0-9]{0,15})([KMGT]?)\Z")
# Strong password schemes: {SCHEME} and the crypt(3)-style hash each one writes.
HASHES = {
    "SHA512-CRYPT": re.compile(r"^\$6\$(rounds=[0-9]{4,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}\Z"),
    "BLF-CRYPT": re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}\Z"),
    "ARGON2ID": re.compile(r"^\$argon2id\$v=19\$m=[0-9]{1,9},t=[0-9]{1,4},p=[0-9]{1,3}\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}\Z"),
}
# What a bare crypt string starts with, by scheme.
CRYPT_PREFIXES = (("$6$", "SHA512-CRYPT"), ("$2a$", "BLF-CRYPT"), ("$2b$", "BLF-CRYPT"), ("$2y$", "BLF-CRYPT"),
                  ("$argon2id$", "ARGON2ID"))
WEAK_CRYPT_PREFIXES = (("$1$", "MD5-CRYPT"), ("$5$", "SHA256-CRYPT"), ("$argon2i$", "ARGON2I"), ("$y$", "yescrypt"))
HASH_HELP = ("make it on the control node with doveadm pw -s SHA512-CRYPT (or ARGON2ID, BLF-CRYPT) "
             "or Ansible's password_hash('sha512', salt) filter")
HEADER = "# Managed by postmaster.mail (the dovecot role): changes here are overwritten.\n"
# The Postfix lookup table of the envelope senders each login may use (regexp: not built).
SENDER_LOGINS_TABLE = "postmaster_sender_logins"
VIRTUAL_MAILBOXES_TABLE = "postmaster_virtual_mailboxes"
# What the postfix role's submission (587) and smtps (465) services add: AUTH after TLS only,
# nothing accepted from a client that did not log in, the sender must be the login's.
SUBMISSION_OPTIONS = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_tls_auth_only": "yes",
    "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_sender_restrictions": "reject_sender_login_mismatch,permit",
    "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_recipient_restrictions": "permit_sasl_authenticated,reject",
}


class DovecotSettingsError(ValueError):
    """A setting the model refuses: one line naming the role variable."""


# --- values -------------------------------------------------------------------------------------

def _describe_control(value):
    found = CONTROL_CHARACTERS.search(value)
    names = {"\n": "a line break (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab"}
    return names.get(found.group(), "a control character (U+%04X)" % ord(found.group()))


def _text(name, value, secret=False):
    """VALUE as a one-line string, or DovecotSettingsError naming NAME (a secret is never shown)."""
    if not isinstance(value, str):
        raise DovecotSettingsError("%s must be a string, not %s" % (name, type(value).__name__))
    if CONTROL_CHARACTERS.search(value):
        raise DovecotSettingsError("%s has %s, which would end the line in the file it goes to: remove it"
                                   % (name, _describe_control(value)) + ("" if secret else " (got %r)" % value))
    return value


def _bool(name, value):
    if not isinstance(value, bool):
        raise DovecotSettingsError("%s must be true or false, not %r" % (name, value))
    return value


def _list(name, value):
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise DovecotSettingsError("%s must be a list, not %s" % (name, type(value).__name__))
    return list(value)


def check_path(name, value):
    """VALUE if it is an absolute, normalised path of safe characters."""
    _text(name, value)
    if not PATH.match(value):
        raise DovecotSettingsError("%s must be an absolute path of letters, digits and . _ + , = @ ~ / - "
                                   "(no spaces or ':'), got %r" % (name, value))
    if posixpath.normpath(value) != value or value.startswith("//"):
        raise DovecotSettingsError("%s must be a normalised absolute path (no '.', '..', '//' or trailing '/'), "
                                   "got %r" % (name, value))
    return value


def size(name, value):
    """A quota as Dovecot writes sizes (digits and an optional K, M, G or T), from an integer
    number of bytes or such a string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DovecotSettingsError("%s must be a size such as 500M or 2G, not %s" % (name, type(value).__name__))
    text = str(value)
    _text(name, text)
    found = SIZE.match(text.strip().upper())
    if not found or text != text.strip():
        raise DovecotSettingsError("%s must be a size: a whole number above 0 with an optional K, M, G or T, "
                                   "such as 500M or 2G, got %r" % (name, value))
    return found.group(1) + found.group(2)


def password_field(name, value):
    """The passwd-file password field, {SCHEME}hash, for a strong hash; the message never shows VALUE."""
    if value is None or value == "":
        raise DovecotSettingsError("%s is missing: every virtual user needs a password hash; %s" % (name, HASH_HELP))
    _text(name, value, secret=True)
    scheme, hashed = None, value
    if value.startswith("{"):
        scheme, brace, hashed = value[1:].partition("}")
        if not brace:
            raise DovecotSettingsError("%s starts with '{' but has no '}' after the scheme: write {SHA512-CRYPT}$6$..."
                                       % name)
        scheme = scheme.upper()
    else:
        for prefix, candidate in CRYPT_PREFIXES + WEAK_CRYPT_PREFIXES:
            if value.startswith(prefix):
                scheme = candidate
                break
    if scheme is None:
        raise DovecotSettingsError("%s is not a password hash Dovecot can check (a clear password must never be "
                                   "given): %s" % (name, HASH_HELP))
    if scheme not in HASHES:
        raise DovecotSettingsError("%s uses the scheme %s, which is weak or unknown: use ARGON2ID, SHA512-CRYPT or "
                                   "BLF-CRYPT; %s" % (name, _safe_scheme(scheme), HASH_HELP))
    if not HASHES[scheme].match(hashed):
        raise DovecotSettingsError("%s says %s but is not a well-formed %s hash: %s"
                                   % (name, scheme, scheme, HASH_HELP))
    return "{%s}%s" % (scheme, hashed)


def _safe_scheme(scheme):
    return scheme if re.match(r"^[A-Za-z0-9._-]{1,32}\Z", scheme) else "(unreadable)"


# --- settings -----------------------------------------------------------------------------------

def version_family(facts):
    """"2.3" or "2.4" from facts['version'] ("2.3.13", "2.3.19.1", "2.4.1-4"), None when unknown."""
    version = (facts or {}).get("version")
    if not version:
        return None
    found = re.match(r"^(\d+)\.(\d+)", str(version))
    if not found:
        raise DovecotSettingsError("the Dovecot version %r is not a version number such as 2.3.19" % (version,))
    major, minor = int(found.group(1)), int(found.group(2))
    if (major, minor) == (2, 3):
        return "2.3"
    if major == 2 and minor >= 4:
        return "2.4"
    raise DovecotSettingsError("Dovecot %s is not supported: this collection writes configuration for Dovecot 2.3 "
                               "(bullseye, bookworm) and 2.4 (trixie)" % version)


def settings_with_defaults(settings):
    if not isinstance(settings, dict):
        raise DovecotSettingsError("the dovecot role's settings must be a dictionary of dovecot_* variables")
    unknown = sorted(str(name) for name in settings if str(name).startswith("dovecot_") and name not in DEFAULTS)
    if unknown:
        raise DovecotSettingsError("%s is not a setting of the dovecot role: check its spelling" % unknown[0])
    return dict(DEFAULTS, **{name: value for name, value in settings.items() if name in DEFAULTS})


def mail_location(value):
    """(dovecot path, Postfix home_mailbox) of dovecot_mail_location, a Maildir inside the home."""
    _text("dovecot_mail_location", value)
    parts = value[2:].split("/") if value.startswith("~/") else []
    if not MAIL_LOCATION.match(value) or any(part in (".", "..") for part in parts):
        raise DovecotSettingsError("dovecot_mail_location must be a Maildir inside the user's home, as ~/Maildir "
                                   "(where Postfix's home_mailbox Maildir/ delivers), got %r" % value)
    return value, value[2:] + "/"


def user_entries(settings):
    """The virtual users, checked, with their passwd-file fields."""
    users = []
    seen = set()
    for index, user in enumerate(_list("dovecot_users", settings["dovecot_users"])):
        where = "dovecot_users[%d]" % index
        if not isinstance(user, dict):
            raise DovecotSettingsError("%s must be a dictionary with name and password_hash, not %s"
                                       % (where, type(user).__name__))
        if "password" in user:
            raise DovecotSettingsError("%s.password: a clear password never goes to the host: give password_hash "
                                       "instead; %s" % (where, HASH_HELP))
        unknown = sorted(str(key) for key in user if key not in USER_KEYS)
        if unknown:
            raise DovecotSettingsError("%s: unknown key %s: use %s" % (where, unknown[0], ", ".join(USER_KEYS)))
        name = user.get("name")
        if not isinstance(name, str) or not name:
            raise DovecotSettingsError("%s.name is missing: give the user's login name, as alice or alice@example.org"
                                       % where)
        _text(where + ".name", name)
        if ":" in name:
            raise DovecotSettingsError("%s.name %r has a ':', which ends a field of Dovecot's passwd-file: use a name "
                                       "without ':'" % (where, name))
        if not USER_NAME.match(name):
            raise DovecotSettingsError("%s.name %r is not a login name Dovecot takes: lower-case letters, digits and "
                                       ". _ - with an optional @domain" % (where, name))
        if name in seen:
            raise DovecotSettingsError("%s.name %r is given twice: give each user once" % (where, name))
        seen.add(name)
        entry = {"name": name, "password": password_field(where + ".password_hash", user.get("password_hash"))}
        for key in ("uid", "gid"):
            value = user.get(key)
            if value is None:
                value = settings["dovecot_virtual_owner"]
            elif isinstance(value, bool) or not (isinstance(value, int) and value > 0
                                                 or isinstance(value, str) and SYSTEM_NAME.match(value)):
                raise DovecotSettingsError("%s.%s must be a user or group name or a number above 0, got %r"
                                           % (where, key, value))
            entry[key] = str(value)
        home = user.get("home")
        entry["home"] = check_path(where + ".home", home) if home is not None else "%s/%s" % (
            settings["dovecot_virtual_home_dir"], name)
        quota = user.get("quota")
        entry["quota"] = size(where + ".quota", quota) if quota is not None else None
        senders = user.get("senders")
        if senders is None:
            senders = [name] if "@" in name else []
        entry["senders"] = [_sender(where + ".senders", sender) for sender in _list(where + ".senders", senders)]
        entry["default_owner"] = user.get("uid") is None or user.get("gid") is None
        users.append(entry)
    return users


def _sender(name, value):
    """An address (local@domain) or a whole domain (@domain) a login may send as, lower case."""
    _text(name, value)
    local, at, domain = value.lower().rpartition("@")
    if not at or not DOMAIN.match(domain) or (local and not re.match(r"^[a-z0-9._+-]{1,64}\Z", local)):
        raise DovecotSettingsError("%s: %r is neither an address (alice@example.org) nor a domain (@example.org)"
                                   % (name, value))
    return value.lower()


def validate(settings, facts):
    """The settings with defaults applied and checked, plus the version family, the virtual
    users and the mail location; DovecotSettingsError for the first problem."""
    settings = settings_with_defaults(settings)
    family = version_family(facts)
    for name in ("dovecot_service_enabled", "dovecot_imap_enabled", "dovecot_lmtp_enabled", "dovecot_system_users"):
        _bool(name, settings[name])
    for package in _list("dovecot_packages", settings["dovecot_packages"]):
        if not isinstance(package, str) or not PACKAGE.match(package):
            raise DovecotSettingsError("dovecot_packages: %r is not a Debian package name" % (package,))
    for name in ("dovecot_config_file", "dovecot_users_file", "dovecot_virtual_home_dir", "dovecot_postfix_queue_dir",
                 "dovecot_auth_socket", "dovecot_lmtp_socket", "dovecot_postfix_config_dir"):
        check_path(name, settings[name])
    for name in ("dovecot_auth_socket", "dovecot_lmtp_socket"):
        if not settings[name].startswith(settings["dovecot_postfix_queue_dir"] + "/"):
            raise DovecotSettingsError("%s %s is outside dovecot_postfix_queue_dir %s, where Postfix's chrooted smtpd "
                                       "cannot reach it: put it under %s/private/"
                                       % (name, settings[name], settings["dovecot_postfix_queue_dir"],
                                          settings["dovecot_postfix_queue_dir"]))
    for name in ("dovecot_virtual_owner", "dovecot_postfix_user", "dovecot_postfix_group"):
        _text(name, settings[name])
        if not SYSTEM_NAME.match(settings[name]):
            raise DovecotSettingsError("%s must be a system user or group name, got %r" % (name, settings[name]))
    if settings["dovecot_imap_enabled"]:
        if settings["dovecot_tls_chain_file"] is None:
            raise DovecotSettingsError("dovecot_tls_chain_file is not set: IMAP needs TLS; give the tls role's "
                                       "tls_server_chain_file (key and chain in one file) or set "
                                       "dovecot_imap_enabled: false")
        check_path("dovecot_tls_chain_file", settings["dovecot_tls_chain_file"])
        if settings["dovecot_tls_key_file"] is not None:
            check_path("dovecot_tls_key_file", settings["dovecot_tls_key_file"])
    if settings["dovecot_tls_min_protocol"] not in TLS_PROTOCOLS:
        raise DovecotSettingsError("dovecot_tls_min_protocol must be one of %s, got %r"
                                   % (", ".join(TLS_PROTOCOLS), settings["dovecot_tls_min_protocol"]))
    _text("dovecot_tls_ciphers", settings["dovecot_tls_ciphers"])
    if not CIPHERS.match(settings["dovecot_tls_ciphers"]):
        raise DovecotSettingsError("dovecot_tls_ciphers must be an OpenSSL cipher list (names joined by ':'), got %r"
                                   % settings["dovecot_tls_ciphers"])
    _text("dovecot_tls_curves", settings["dovecot_tls_curves"])
    if not CURVES.match(settings["dovecot_tls_curves"]):
        raise DovecotSettingsError("dovecot_tls_curves must be OpenSSL group names joined by ':', as "
                                   "X25519:prime256v1:secp384r1, got %r" % settings["dovecot_tls_curves"])
    listen = _list("dovecot_listen", settings["dovecot_listen"])
    if not listen:
        raise DovecotSettingsError("dovecot_listen is empty: give the addresses to listen on, as ['*', '::']")
    for address in listen:
        if not isinstance(address, str) or not LISTEN.match(address):
            raise DovecotSettingsError("dovecot_listen: %r is not *, :: or an IP address" % (address,))
    mechanisms = _list("dovecot_auth_mechanisms", settings["dovecot_auth_mechanisms"])
    if not mechanisms or any(mechanism not in AUTH_MECHANISMS for mechanism in mechanisms):
        raise DovecotSettingsError("dovecot_auth_mechanisms must list some of %s (they are safe only over TLS, "
                                   "which Dovecot and Postfix require first), got %r"
                                   % (", ".join(AUTH_MECHANISMS), mechanisms))
    for index, domain in enumerate(_list("dovecot_sender_domains", settings["dovecot_sender_domains"])):
        _text("dovecot_sender_domains[%d]" % index, domain)
        if not DOMAIN.match(domain):
            raise DovecotSettingsError("dovecot_sender_domains[%d] %r is not a lower-case domain name" % (index, domain))
    default_quota = settings["dovecot_quota_default"]
    quota = size("dovecot_quota_default", default_quota) if default_quota is not None else None
    location, home_mailbox = mail_location(settings["dovecot_mail_location"])
    users = user_entries(settings)
    if not settings["dovecot_system_users"] and not users:
        raise DovecotSettingsError("dovecot_users is empty and dovecot_system_users is false, so no one could log in: "
                                   "give virtual users or set dovecot_system_users: true")
    return {"settings": settings, "family": family, "users": users, "quota": quota, "location": location,
            "home_mailbox": home_mailbox}


# --- files --------------------------------------------------------------------------------------

def passwd_file(users, family):
    """The passwd-file: user:{SCHEME}hash:uid:gid::home::extra fields (the user's quota)."""
    lines = []
    for user in users:
        extra = ""
        if user["quota"] is not None:
            extra = ("userdb_quota_rule=*:storage=%s" if family == "2.3" else "userdb_quota_storage_size=%s") \
                % user["quota"]
        lines.append(":".join([user["name"], user["password"], user["uid"], user["gid"], "", user["home"], "", extra]))
    return HEADER + "".join(line + "\n" for line in lines)


def _block(name, lines, indent="  "):
    return ["%s {" % name] + [indent + line if line else line for line in lines] + ["}"]


def render_config(checked):
    """dovecot.conf for the version family: everything Dovecot runs with, including nothing."""
    settings, v24 = checked["settings"], checked["family"] == "2.4"
    imap, lmtp = settings["dovecot_imap_enabled"], settings["dovecot_lmtp_enabled"]
    quota = checked["quota"] is not None or any(user["quota"] is not None for user in checked["users"])
    lines = []
    if v24:
        # Must come first (before any other setting), both required by 2.4.
        lines += ["dovecot_config_version = 2.4.0", "dovecot_storage_version = 2.4.0"]
    protocols = [name for name, wanted in (("imap", imap), ("lmtp", lmtp)) if wanted]
    lines += ["protocols = %s" % (" ".join(protocols) if protocols else "none" if not v24 else ""),
              "listen = %s" % ", ".join(settings["dovecot_listen"]),
              "",
              "# Logins and AUTH only after TLS: mechanisms %s send the password as it is."
              % " and ".join(settings["dovecot_auth_mechanisms"]),
              "auth_mechanisms = %s" % " ".join(settings["dovecot_auth_mechanisms"]),
              "auth_allow_cleartext = no" if v24 else "disable_plaintext_auth = yes",
              "# A failed login is logged with the user and the reason (never the password), after",
              "# Dovecot's delay against guessing (auth_failure_delay, 2 s).",
              "auth_verbose = yes"]
    if imap:
        chain = settings["dovecot_tls_chain_file"]
        key = settings["dovecot_tls_key_file"] or chain
        lines += ["ssl = required"]
        lines += (["ssl_server_cert_file = %s" % chain, "ssl_server_key_file = %s" % key] if v24
                  else ["ssl_cert = <%s" % chain, "ssl_key = <%s" % key])
        lines += ["ssl_min_protocol = %s" % settings["dovecot_tls_min_protocol"],
                  "ssl_cipher_list = %s" % settings["dovecot_tls_ciphers"],
                  "ssl_curve_list = %s" % settings["dovecot_tls_curves"]]
    else:
        lines += ["ssl = no"]
    lines += ["", "# The Maildir Postfix delivers to (home_mailbox = %s)." % checked["home_mailbox"]]
    lines += (["mail_driver = maildir", "mail_path = %s" % checked["location"]] if v24
              else ["mail_location = maildir:%s" % checked["location"]])
    lines += [""] + auth_databases(checked)
    if quota:
        lines += [""] + quota_config(checked)
    lines += [""]
    if imap:
        lines += _block("service imap-login", _block("inet_listener imap", ["port = 143"])
                        + _block("inet_listener imaps", ["port = 993", "ssl = yes"]))
    lines += _block("service auth", _block("unix_listener %s" % settings["dovecot_auth_socket"], [
        "mode = 0660", "user = %s" % settings["dovecot_postfix_user"], "group = %s" % settings["dovecot_postfix_group"]]))
    if lmtp:
        lines += _block("service lmtp", _block("unix_listener %s" % settings["dovecot_lmtp_socket"], [
            "mode = 0600", "user = %s" % settings["dovecot_postfix_user"],
            "group = %s" % settings["dovecot_postfix_group"]]))
        if settings["dovecot_system_users"]:
            # Postfix's local(8) hands LMTP user@domain: system users are found without the domain;
            # the virtual users' passwd-file looks up the name as given (see auth_databases).
            lines += _block("protocol lmtp", ["auth_username_format = %s"
                                              % ("%{user | username | lower}" if v24 else "%Ln")])
    return HEADER + "\n".join(lines) + "\n"


def auth_databases(checked):
    """passdb and userdb: the virtual users' passwd-file first, then PAM and the system's users."""
    settings, v24 = checked["settings"], checked["family"] == "2.4"
    path = settings["dovecot_users_file"]
    lines = []
    if checked["users"]:
        # By the name as the client or Postfix gave it (lower case), not the one LMTP shortens
        # for system users: bob@example.org stays bob@example.org.
        if v24:
            name = "auth_username_format = %{original_user | lower}"
            lines += _block("passdb passwd-file", [name, "passwd_file_path = %s" % path])
            lines += _block("userdb passwd-file", [name, "passwd_file_path = %s" % path])
        else:
            lines += _block("passdb", ["driver = passwd-file",
                                       "args = scheme=CRYPT username_format=%%L{orig_user} %s" % path])
            lines += _block("userdb", ["driver = passwd-file", "args = username_format=%%L{orig_user} %s" % path])
    if settings["dovecot_system_users"]:
        if v24:
            lines += _block("passdb pam", ["service_name = dovecot"]) + _block("userdb passwd", [])
        else:
            lines += _block("passdb", ["driver = pam", "args = dovecot"]) + _block("userdb", ["driver = passwd"])
    return lines


def quota_config(checked):
    """The quota plugin (count backend: index-based, sees mail Postfix wrote into the Maildir
    once Dovecot indexes it), the default limit, and LMTP refusing a message over quota at RCPT."""
    v24 = checked["family"] == "2.4"
    limit = checked["quota"]
    # No grace: a message that would take the user over quota is refused (552), as on 2.3 with
    # quota_grace = 0; 2.4's default grace is 10 MB, 2.3's 10 % of the limit.
    if v24:
        lines = _block("mail_plugins", ["quota = yes"])
        lines += _block('quota "User quota"', ["quota_driver = count"])
        lines += ["quota_storage_grace = 0"]
        if limit is not None:
            lines += ["quota_storage_size = %s" % limit]
        lines += _block("protocol imap", _block("mail_plugins", ["imap_quota = yes"]))
    else:
        lines = ["mail_plugins = $mail_plugins quota"]
        lines += _block("plugin", ["quota = count:User quota", "quota_vsizes = yes", "quota_grace = 0"]
                        + (["quota_rule = *:storage=%s" % limit] if limit is not None else []))
        lines += _block("protocol imap", ["mail_plugins = $mail_plugins imap_quota"])
    if checked["settings"]["dovecot_lmtp_enabled"]:
        lines += ["lmtp_rcpt_check_quota = yes"]
    return lines


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- Postfix's part -------------------------------------------------------------------------------

def _postfix_socket(settings, name):
    return posixpath.relpath(settings[name], settings["dovecot_postfix_queue_dir"])


def _regexp(text):
    """TEXT (letters, digits and . _ + - @, as checked) matched literally in a Postfix regexp table."""
    return re.sub(r"([.+])", r"\\\1", text)


def sender_logins(checked):
    """The regexp table smtpd_sender_login_maps reads: each sender address (or domain) and the
    logins that own it; an address also belongs to the owners of its whole domain."""
    owners, domains = {}, {}
    for user in checked["users"]:
        for sender in user["senders"]:
            target = domains if sender.startswith("@") else owners
            target.setdefault(sender, []).append(user["name"])
    lines = []
    for address in sorted(owners):
        logins = owners[address] + domains.get("@" + address.partition("@")[2], [])
        local, dummy, domain = address.partition("@")
        lines.append("/^%s(\\+[^@]*)?@%s$/ %s" % (_regexp(local), _regexp(domain), ",".join(logins)))
    system = checked["settings"]["dovecot_sender_domains"] if checked["settings"]["dovecot_system_users"] else []
    for domain in sorted(set(domains) | {"@" + name for name in system}):
        logins = list(domains.get(domain, []))
        if domain[1:] in system:
            # A system user owns local@domain for each of dovecot_sender_domains (the login is the local part).
            lines.append("/^([^@+]+)(\\+[^@]*)?%s$/ ${1}%s" % (_regexp(domain), "".join("," + login for login in logins)))
        else:
            lines.append("/%s$/ %s" % (_regexp(domain), ",".join(logins)))
    return HEADER + "".join(line + "\n" for line in lines)


def postfix_contract(checked):
    """What the postfix role adds for authenticated submission and LMTP delivery."""
    settings = checked["settings"]
    config_dir = settings["dovecot_postfix_config_dir"]
    lmtp = "lmtp:unix:%s" % _postfix_socket(settings, "dovecot_lmtp_socket")
    source = sender_logins(checked)
    sender_table = {"path": "%s/%s" % (config_dir, SENDER_LOGINS_TABLE), "type": "regexp", "mode": "0644",
                    "owner": "root", "group": "root", "source": source, "sha256": sha256(source)}
    main_cf = {
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": _postfix_socket(settings, "dovecot_auth_socket"),
        "smtpd_sender_login_maps": ["regexp:" + sender_table["path"]],
        "home_mailbox": checked["home_mailbox"],
        "mailbox_transport": lmtp if settings["dovecot_lmtp_enabled"] else None,
        "virtual_mailbox_domains": None,
        "virtual_mailbox_maps": None,
        "virtual_transport": None,
    }
    tables = {"sender_logins": sender_table}
    addresses = sorted(user["name"] for user in checked["users"] if "@" in user["name"])
    if settings["dovecot_lmtp_enabled"] and addresses:
        # Virtual users named by address receive mail through LMTP as a virtual mailbox domain.
        entries = {address: "OK" for address in addresses}
        tables["virtual_mailboxes"] = {"path": "%s/%s" % (config_dir, VIRTUAL_MAILBOXES_TABLE), "mode": "0644",
                                       "owner": "root", "group": "root", "entries": entries}
        main_cf.update({"virtual_mailbox_domains": sorted({address.partition("@")[2] for address in addresses}),
                        "virtual_mailbox_maps": ["${default_database_type}:%s" % tables["virtual_mailboxes"]["path"]],
                        "virtual_transport": lmtp})
    return {"main_cf": main_cf, "submission_options": dict(SUBMISSION_OPTIONS), "tables": tables}


# --- the whole ----------------------------------------------------------------------------------

def desired_state(settings, facts=None):
    """Everything the dovecot role writes, from its settings and the host's Dovecot version.

    Returns a dict:
      packages, services: for ansible.builtin.apt and ansible.builtin.systemd_service;
      reload_pending: the file that notes a reload not done yet (module_utils/_pending.py);
      version_family: "2.3" or "2.4", None while the version is unknown;
      info_wanted: whether the version is unknown (install Dovecot, read it, ask again);
      files: [{path, content, mode, owner, group, secret, sha256}]: dovecot.conf, and the
        passwd-file of the virtual users (secret: pass it only to a task with no_log), or
        [] while info_wanted;
      unused_files: paths to remove (the passwd-file once there are no virtual users);
      accounts: the system user and directory virtual users default to ({name, home}), or None;
      drift_spec: the desired state for postmaster.mail.drift_check (no secret digest), or None
        while info_wanted;
      secret_digests: {path: sha256} of the secret files, only for drift_check's no_log option;
      postfix: {main_cf, submission_options, tables}: what Postfix adds (main.cf parameters, a
        null one removed; the options of master.cf's submission and smtps services; the sender
        login table and, with LMTP, the virtual mailbox table).
    """
    checked = validate(settings, facts)
    settings = checked["settings"]
    packages = list(settings["dovecot_packages"])
    for package, wanted in (("dovecot-imapd", settings["dovecot_imap_enabled"]),
                            ("dovecot-lmtpd", settings["dovecot_lmtp_enabled"])):
        if wanted and package not in packages:
            packages.append(package)
    enabled = settings["dovecot_service_enabled"]
    state = {
        "packages": packages,
        "services": [{"name": "dovecot", "enabled": enabled, "active": enabled}],
        "reload_pending": reload_pending("dovecot"),
        "version_family": checked["family"],
        "info_wanted": checked["family"] is None,
        "files": [],
        "unused_files": [] if checked["users"] else [settings["dovecot_users_file"]],
        "accounts": None,
        "postfix": postfix_contract(checked),
    }
    if any(user["default_owner"] for user in checked["users"]):
        state["accounts"] = {"name": settings["dovecot_virtual_owner"], "home": settings["dovecot_virtual_home_dir"]}
    if checked["family"] is not None:
        config = render_config(checked)
        state["files"].append({"path": settings["dovecot_config_file"], "content": config, "mode": "0644",
                               "owner": "root", "group": "root", "secret": False, "sha256": sha256(config)})
        if checked["users"]:
            users = passwd_file(checked["users"], checked["family"])
            # Read by Dovecot's auth process, which runs as the dovecot user.
            state["files"].append({"path": settings["dovecot_users_file"], "content": users, "mode": "0640",
                                   "owner": "root", "group": "dovecot", "secret": True, "sha256": sha256(users)})
    state["secret_digests"] = {item["path"]: item["sha256"] for item in state["files"] if item["secret"]}
    state["drift_spec"] = None if state["info_wanted"] else drift_spec(state)
    return state


def drift_spec(state):
    """What postmaster.mail.drift_check compares: packages, the service, each file by digest
    (a secret one marked secret, its digest in secret_digests), removed files absent, and no
    reload left pending."""
    files = []
    for item in state["files"]:
        entry = {key: item[key] for key in ("path", "mode", "owner", "group")}
        entry.update({"secret": True} if item["secret"] else {"sha256": item["sha256"]})
        files.append(entry)
    files += [{"path": path, "state": "absent"} for path in state["unused_files"]]
    files.append({"path": state["reload_pending"], "state": "absent"})
    return {"packages": state["packages"], "services": state["services"], "files": files}
