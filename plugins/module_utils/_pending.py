# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a role notes a reload its handler has not done yet: postmaster.mail.files writes the
file before it changes the service's files (its `pending` option), the handler removes it after
the reload, and the role's drift check wants it absent, so a run that stopped before its
handler is finished by the next. Under /run, which is emptied at boot, when the service starts
on its files as they are.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

PENDING_DIRECTORY = "/run/postmaster-mail"


def reload_pending(service):
    return "%s/%s.reload-pending" % (PENDING_DIRECTORY, service)
