# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What no one-line value in a daemon's configuration file may hold.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and Unicode's line and paragraph separators: each either
# ends a line for some reader (Postfix, stunnel, Python's splitlines) or cannot be written back.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
