# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix lookup tables written from data: the backend of postmaster.mail.postmap and
postmaster.mail.tls_policy.

The first part is pure logic (no files, no processes): checking and rendering the
entries, the source file text, and the diff with secret values redacted. The `Table`
class at the end is the backend: it asks the host's Postfix which table types it has,
stages the source file and the built file next to the live table, builds with
`postmap`, and renames both into place.

Why staged: `postmap hash:PATH` and `btree:PATH` truncate PATH.db and rewrite it in
place (under a lock), and `lmdb:` rewrites PATH.lmdb in place (in one transaction);
only `cdb:` writes a temporary file and renames it. Building from a staged copy of the
source, in the same directory, and renaming the result over the live file gives every
type the same guarantee: a Postfix process sees the old table or the new one, and a
failed build leaves the live table as it was. Postfix processes notice the renamed-in
file (the file they have open is unlinked) and restart on their own.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import tempfile

from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS
from ansible_collections.postmaster.mail.plugins.module_utils._files import ModeError, parse_mode
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import postconf, postmap

# Types whose source file postmap turns into an indexed file, and that file's suffixes.
BUILT_SUFFIXES = {
    "btree": (".db",),
    "cdb": (".cdb",),
    "dbm": (".dir", ".pag"),
    "hash": (".db",),
    "lmdb": (".lmdb",),
    "sdbm": (".dir", ".pag"),
}
# Types that Postfix reads from the source file itself: nothing to build.
SOURCE_TYPES = ("texthash",)
FILE_TYPES = tuple(sorted(BUILT_SUFFIXES)) + SOURCE_TYPES
# Pattern tables, read from the source file too, a pattern per line in order; only a writer
# that asks for them takes them (postmaster.mail.postmap). Postfix only warns about a pattern
# it cannot read and skips the line, so a staged copy is read by postmap first and any warning
# refuses it.
PATTERN_TYPES = ("regexp",)
# Debian ships these table types in packages of their own.
DEBIAN_PACKAGES = {"cdb": "postfix-cdb", "lmdb": "postfix-lmdb"}
HEADER = "# Managed by %s: changes made here are overwritten.\n"
REDACTED = "********"

# Control characters (C0 with tab, DEL, C1) and the Unicode line and paragraph separators:
# postmap reads a tab as white space, and Python's str.splitlines() (this file's diff) breaks
# lines at several of the others.
_CONTROL = CONTROL_CHARACTERS
# The longest key an lmdb table holds (LMDB's key size limit, with the terminating null).
LMDB_MAX_KEY_BYTES = 510
_NOT_IN_MAP_NAME = re.compile(r"[\s,{}]")


class TableError(ValueError):
    """Input or host state that stops a table from being written; the message says what to fix."""


# --- entries ------------------------------------------------------------------------------

def table_entries(entries):
    """[(key, value)] from a dict of key: value or a list of {key, value}, in the order
    given, checked. Keys that Postfix reads as the same key (it folds them to lower case)
    may appear only once."""
    if isinstance(entries, dict):
        items = list(entries.items())
    elif isinstance(entries, (list, tuple)):
        items = []
        for index, item in enumerate(entries):
            if not isinstance(item, dict) or sorted(item) != ["key", "value"]:
                raise TableError("entries[%d]: give each list item as {key: ..., value: ...} and nothing else"
                                 % index)
            items.append((item["key"], item["value"]))
    else:
        raise TableError("entries must be a dictionary of key: value, or a list of {key: ..., value: ...} items")
    pairs = []
    seen = {}
    for key, value in items:
        key = check_key(key)
        folded = fold(key)
        if folded in seen:
            raise TableError("key %s is given twice (as %s and %s; Postfix folds keys to lower case and keeps "
                             "only the first): merge the two entries" % (folded, seen[folded], key))
        seen[folded] = key
        pairs.append((key, render_value(key, value)))
    return pairs


def fold(key):
    """The key as Postfix looks it up: folded to lower case, with full Unicode case folding
    when smtputf8_enable is on (Straße and STRASSE are one key)."""
    return key.casefold()


def check_key(key):
    """The key as text. Postfix reads a key up to the first white space, so it may have none."""
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str):
        raise TableError("key %r is not a string: quote it" % (key,))
    if not key:
        raise TableError("a key is empty: every entry needs a key such as user@example.org or [smtp.example.org]:587")
    if _CONTROL.search(key):
        raise TableError("key %r has a control character or line break: remove it" % key)
    if any(char.isspace() for char in key):
        raise TableError("key %r has white space, where Postfix ends the key (and a line that starts with "
                         "white space continues the one before): remove it (a key is one word, "
                         "such as [smtp.example.org]:587)" % key)
    _check_encoding("key %r" % key, key)
    if key.startswith("#"):
        raise TableError("key %r starts with '#', which Postfix reads as a comment: remove the '#'" % key)
    return key


def render_value(key, value):
    """The value as it goes into the source file: one line, lists joined with ', '.

    Error messages name the key, never the value, which may be a secret."""
    if isinstance(value, (list, tuple)):
        items = [_scalar(key, item) for item in value]
        items = [item for item in items if item]
        text = ", ".join(items)
    else:
        text = _scalar(key, value)
    if not text:
        raise TableError("the value of key %s is empty: give a value (Postfix skips a key without one)" % key)
    return text


def _scalar(key, value):
    if isinstance(value, bool):
        raise TableError("the value of key %s is a boolean: quote it (for example 'yes' or 'OK') if you mean "
                         "the word" % key)
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TableError("the value of key %s is a %s: give a string, a number, or a list of them"
                         % (key, type(value).__name__))
    if "\n" in value or "\r" in value or "\u2028" in value or "\u2029" in value or "\x85" in value:
        raise TableError("the value of key %s has a line break: write it on one line" % key)
    if _CONTROL.search(value):
        raise TableError("the value of key %s has a control character (a tab, for example): remove it" % key)
    _check_encoding("the value of key %s" % key, value)
    return value.strip()


def _check_encoding(what, text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TableError("%s is not valid Unicode text (a lone surrogate): fix the encoding" % what) from None


def check_pairs(pairs):
    """`pairs` unchanged, after the checks table_entries() makes of each key and value: for
    writers that render their own values (postmaster.mail.tls_policy)."""
    for key, value in pairs:
        if check_key(key) != key or render_value(key, value) != value:
            raise TableError("the value of key %s has white space at its start or end: remove it" % key)
    return pairs


def check_entries_for_type(pairs, type_):
    """Limits of one table type: an lmdb key has at most LMDB_MAX_KEY_BYTES bytes."""
    if type_ != "lmdb":
        return
    for key, dummy in pairs:
        size = len(fold(key).encode("utf-8"))
        if size > LMDB_MAX_KEY_BYTES:
            raise TableError("key %s... has %d bytes, more than the %d an lmdb table holds: shorten it, or use "
                             "another table type" % (key[:40], size, LMDB_MAX_KEY_BYTES))


def render_source(pairs, header=""):
    """The source file text: the header, then one `key value` line per entry."""
    return header + "".join("%s %s\n" % pair for pair in pairs)


def parse_source(text):
    """{folded key: value} as postmap reads a source file: comments and blank lines
    skipped, lines that start with white space continue the previous one, first key wins."""
    logical = []
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and logical:
            logical[-1] += " " + line.strip()
        else:
            logical.append(line.strip())
    values = {}
    for line in logical:
        parts = line.split(None, 1)
        values.setdefault(fold(parts[0]), parts[1] if len(parts) > 1 else "")
    return values


# --- diff ---------------------------------------------------------------------------------

def redact(text, header="", changed_keys=()):
    """The source text with every value replaced by ********; keys in `changed_keys`
    (folded) are marked, so a secret that changes still shows as a changed line.
    Comments other than the header are redacted too: they may hold an old secret."""
    lines = []
    given = text.split("\n")  # Postfix's line breaks only (str.splitlines() knows many more)
    if given[-1] == "":
        given.pop()
    for line in given:
        stripped = line.strip()
        if not stripped or (header and line + "\n" == header):
            lines.append(line)
        elif stripped.startswith("#"):
            lines.append("# " + REDACTED)
        elif line[0].isspace():
            lines.append("    " + REDACTED)
        else:
            key = stripped.split(None, 1)[0]
            lines.append("%s %s%s" % (key, REDACTED, " (changed)" if fold(key) in changed_keys else ""))
    return "".join(line + "\n" for line in lines)


def describe(path, before, after, secret=False, header=""):
    """Before/after text of the source file for --diff, values redacted when secret."""
    if secret:
        old, new = parse_source(before), parse_source(after)
        changed = {key for key in new if key in old and old[key] != new[key]}
        before, after = redact(before, header), redact(after, header, changed)
    return {"before_header": path, "after_header": path, "before": before, "after": after}


# --- files --------------------------------------------------------------------------------

def table_mode(value, secret=False):
    """The mode of the table's files: `value` as parse_mode reads it, or when None,
    0600 for a secret table and 0644 otherwise."""
    if value is None:
        return 0o600 if secret else 0o644
    try:
        return parse_mode(value, "'0644' or '0600'")
    except ModeError as exc:
        raise TableError(str(exc)) from None


def check_type(type_, available, pattern_types=()):
    """Fail unless `type_` is a file table type (or one of `pattern_types`) that this host's Postfix offers."""
    usable = sorted(name for name in available if name in FILE_TYPES or name in pattern_types)
    if type_ in usable:
        return
    if type_ in available:
        reason = "table type %s does not keep its entries in a file of key/value lines" % type_
    else:
        reason = "table type %r is not available on this host" % (type_,)
        if type_ in DEBIAN_PACKAGES:
            reason += " (on Debian, install the package %s)" % DEBIAN_PACKAGES[type_]
    raise TableError("%s: use one of %s (from postconf -m)" % (reason, ", ".join(usable) or "none"))


def check_path(path, type_, removing=False):
    """Fail unless `path` can be the source file of a table that main.cf refers to as TYPE:PATH.
    A table in a directory that does not exist is absent already: no error when removing."""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise TableError("path %r is relative: give the absolute path of the source file, for example "
                         "/etc/postfix/sasl_passwd" % (path,))
    if _NOT_IN_MAP_NAME.search(path):
        raise TableError("path %r has white space, a comma or a brace, so main.cf cannot refer to it as "
                         "%s:PATH: choose another file name" % (path, type_))
    if path.endswith("/"):
        raise TableError("path %r is a directory: give the path of the source file inside it" % path)
    for suffix in BUILT_SUFFIXES.get(type_, ()):
        if path.endswith(suffix):
            raise TableError("path %r is the file postmap builds: give the source file, without %s"
                             % (path, suffix))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory) and not removing:
        raise TableError("directory %s does not exist: create it first, or fix path" % directory)
    if os.path.islink(path):
        raise TableError("path %s is a symbolic link: give the file it points to" % path)
    if os.path.lexists(path) and not os.path.isfile(path):
        raise TableError("path %s exists and is not a regular file: remove it or choose another path" % path)


def resolve_owner(owner, group):
    """(uid or None, gid or None) for user and group names or numbers."""
    uid = gid = None
    if owner is not None:
        try:
            uid = pwd.getpwnam(owner).pw_uid
        except KeyError:
            if not owner.isdigit():
                raise TableError("owner %r does not exist on this host: create the user first, or give a "
                                 "numeric uid" % owner) from None
            uid = int(owner)
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            if not group.isdigit():
                raise TableError("group %r does not exist on this host: create the group first, or give a "
                                 "numeric gid" % group) from None
            gid = int(group)
    return uid, gid


def postconf_values(tool, names):
    """{name: value} for main.cf parameters as Postfix uses them (`postconf -xh`)."""
    return tool.values(names, expand=True)


def _last_line(text):
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else "no message"


# --- backend ------------------------------------------------------------------------------

# Options every table module takes; the module adds its own (entries, policies, ...).
TABLE_ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    type=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    mode=dict(type="raw"),
    owner=dict(type="str"),
    group=dict(type="str"),
    config_dir=dict(type="path"),
)


class Plan(object):
    """What it takes to make the table hold `content` with this mode and owner."""

    def __init__(self, current, content, write, build, fix, mode, uid, gid):
        self.current = current  # bytes of the source file now, or None
        self.content = content  # bytes the source file must have
        self.write = write  # the source file changes
        self.build = build  # postmap must run
        self.fix = fix  # live files that only need mode or owner set
        self.mode = mode
        self.uid = uid
        self.gid = gid

    @property
    def changed(self):
        return bool(self.write or self.build or self.fix)


class Table(object):
    """One lookup table TYPE:PATH on the managed host."""

    def __init__(self, module, path, type_=None, config_dir=None, removing=False, pattern_types=()):
        self.module = module
        # config_dir, else MAIL_CONFIG, else /etc/postfix (_postfix_tools.config_directory).
        self.postconf = postconf(module, config_dir)
        self.postmap = postmap(module, config_dir)
        table_types = self.postconf.table_types()
        if not type_:
            type_ = postconf_values(self.postconf, ["default_database_type"])["default_database_type"]
        # A table of a type this host no longer has can still be removed.
        check_type(type_, FILE_TYPES + tuple(pattern_types) if removing else table_types, pattern_types)
        check_path(path, type_, removing)
        self.path = path
        self.type = type_
        self.warnings = []

    @classmethod
    def from_params(cls, module, pattern_types=()):
        params = module.params
        return cls(module, params["path"], params["type"], params["config_dir"], params["state"] == "absent",
                   pattern_types)

    @property
    def reference(self):
        """What main.cf names the table by, for example lmdb:/etc/postfix/sasl_passwd."""
        return "%s:%s" % (self.type, self.path)

    def built_paths(self):
        return [self.path + suffix for suffix in BUILT_SUFFIXES.get(self.type, ())]

    def parameters(self, names):
        return postconf_values(self.postconf, names)

    # --- planning

    def plan(self, content, mode, uid=None, gid=None):
        """Compare the live files with what they must be; changes nothing.

        The owner and group default to those of the existing source file (else the
        user running the module); built files get the source file's mode and owner."""
        source = _stat(self.path)
        current = None
        if source is not None:
            with open(self.path, "rb") as handle:
                current = handle.read()
        uid = uid if uid is not None else (source.st_uid if source else os.geteuid())
        gid = gid if gid is not None else (source.st_gid if source else os.getegid())
        write = current != content
        built = [(path, _stat(path)) for path in self.built_paths()]
        stale = source is None or any(info is None or info.st_mtime_ns < source.st_mtime_ns for dummy, info in built)
        build = bool(built) and (write or stale)
        kept = ([] if write else [(self.path, source)]) + ([] if build else built)
        fix = [path for path, info in kept
               if info is not None and (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) != (mode, uid, gid)]
        return Plan(current, content, write, build, fix, mode, uid, gid)

    def existing_files(self):
        return [path for path in [self.path] + self.built_paths() if os.path.lexists(path)]

    # --- applying

    def apply(self, plan):
        if plan.write or plan.build:
            self._stage_and_replace(plan)
        for path in plan.fix:
            self._set_attributes(path, plan)

    def remove(self):
        """Remove the built files, then the source file."""
        for path in self.built_paths() + [self.path]:
            if os.path.lexists(path):
                os.unlink(path)

    def _stage_and_replace(self, plan):
        """Write the source file next to the live one, build it there, give both files
        their mode and owner, then rename them over the live files: the built file
        first, so Postfix never sees a source file newer than its built file."""
        directory, name = os.path.split(self.path)
        fd, staged = tempfile.mkstemp(prefix=".%s." % name, dir=directory)  # mode 0600
        staged_built = [staged + suffix for suffix in BUILT_SUFFIXES.get(self.type, ())] if plan.build else []
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(plan.content)
                handle.flush()
                os.fsync(handle.fileno())
            if self.type in PATTERN_TYPES:
                self._check_patterns(staged)
            if plan.build:
                self._build(staged)
                # A source file kept as it is may carry a time in the future; a built
                # file older than it would be stale again on the next run.
                keep_after = None if plan.write else os.stat(self.path).st_mtime_ns
                for path in staged_built:
                    self._set_attributes(path, plan)
                    if keep_after is not None and os.stat(path).st_mtime_ns < keep_after:
                        os.utime(path, ns=(keep_after, keep_after))
            self._set_attributes(staged, plan)
            for path, live in zip(staged_built, self.built_paths()):
                os.rename(path, live)
            if plan.write:
                os.rename(staged, self.path)
        finally:
            for path in [staged] + staged_built:
                if os.path.lexists(path):
                    os.unlink(path)

    def _build(self, staged):
        rc, dummy, stderr = self.postmap.run(["%s:%s" % (self.type, staged)], check=False)
        stderr = (stderr or "").replace(staged, self.path)
        if rc != 0:
            raise TableError("postmap cannot build %s, the live table is unchanged: %s"
                             % (self.reference, _last_line(stderr)))
        self.warnings.extend(line.strip() for line in stderr.splitlines() if "warning:" in line)

    def _check_patterns(self, staged):
        """Refuse a pattern table that Postfix reads with a warning (a line it would skip)."""
        rc, dummy, stderr = self.postmap.run(["-q", "postmaster-mail-check", "%s:%s" % (self.type, staged)], check=False)
        stderr = (stderr or "").replace(staged, self.path)
        problems = [line.strip() for line in stderr.splitlines() if "warning:" in line or "fatal:" in line]
        if rc not in (0, 1) or problems:
            raise TableError("postmap cannot read %s, the live table is unchanged: %s"
                             % (self.reference, problems[0] if problems else _last_line(stderr)))

    @staticmethod
    def _set_attributes(path, plan):
        os.chown(path, plan.uid, plan.gid)
        os.chmod(path, plan.mode)

    # --- one call for a module

    def manage(self, pairs, header, secret=False):
        """Make the table hold `pairs` (state=present) or remove it (state=absent), as
        module.params say, honouring check mode and diff mode. Returns the result."""
        module = self.module
        params = module.params
        result = dict(changed=False, path=self.path, type=self.type, map_reference=self.reference, rebuilt=False)
        if params["state"] == "absent":
            existing = self.existing_files()
            result["changed"] = bool(existing)
            if existing and module._diff:
                before = ""
                if os.path.isfile(self.path):
                    before = _read_text(self.path)
                result["diff"] = describe(self.path, before, "", secret, header)
            if existing and not module.check_mode:
                self.remove()
            return result
        check_entries_for_type(check_pairs(pairs), self.type)
        mode = table_mode(params["mode"], secret)
        uid, gid = resolve_owner(params["owner"], params["group"])
        content = render_source(pairs, header).encode("utf-8")
        plan = self.plan(content, mode, uid, gid)
        result.update(changed=plan.changed, rebuilt=plan.build)
        if plan.write and module._diff:
            before = plan.current.decode("utf-8", "replace") if plan.current is not None else ""
            result["diff"] = describe(self.path, before, content.decode("utf-8"), secret, header)
        if plan.changed and not module.check_mode:
            self.apply(plan)
        for warning in self.warnings:
            module.warn(warning)
        return result


def reveal_entries(module, entries, secret):
    """`entries` is no_log in the argument spec, so Ansible never logs it on the managed
    host, and hides every key and value of it in the result. Show them again, except
    the values of a secret table."""
    keys, values = set(), set()
    if isinstance(entries, dict):
        items = entries.items()
    elif isinstance(entries, (list, tuple)):
        items = [(item.get("key"), item.get("value")) for item in entries if isinstance(item, dict)]
    else:
        items = [(None, entries)]
    for key, value in items:
        keys.update(_strings(key))
        values.update(_strings(value))
    module.no_log_values.difference_update(keys | values)
    if secret:
        module.no_log_values.update(values)


def _strings(value):
    """The non-empty strings Ansible would hide for a no_log value, and their stripped forms."""
    if isinstance(value, (list, tuple)):
        found = set()
        for item in value:
            found.update(_strings(item))
        return found
    if value is None or isinstance(value, bool):
        return set()
    text = str(value)
    return {item for item in (text, text.strip()) if item}


def _stat(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")
