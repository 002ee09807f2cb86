# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""File attributes given as module options, read the way ansible.builtin.file reads them.

Pure logic (no files, no processes).

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations


class ModeError(ValueError):
    """A mode that is neither an octal string nor a number from 0 to 0o7777."""


def parse_mode(value, example="'0644'"):
    """The mode `value` gives: an octal string such as '0644', or (as in
    ansible.builtin.file) an integer that is the mode itself, which is what YAML makes
    of an unquoted 0644. `example` is the octal string the error message suggests."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= 0o7777:
        raise ModeError("invalid mode %r: give an octal string such as %s" % (value, example))
    return mode
