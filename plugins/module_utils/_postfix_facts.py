# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the installed Postfix is and can do, read from postconf.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import re

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import postconf

DIRECTORY_PARAMETERS = (
    "config_directory",
    "command_directory",
    "daemon_directory",
    "data_directory",
    "meta_directory",
    "queue_directory",
)
OTHER_PARAMETERS = ("mail_version", "default_database_type", "compatibility_level")

# Features named after the parameter that brings them: present in `postconf -d` only
# where this Postfix has them, which also catches features backported to older releases.
FEATURE_PARAMETERS = (
    "smtp_tls_chain_files",
    "smtp_tls_connection_reuse",
    "smtp_tls_wrappermode",
    "smtpd_forbid_bare_newline",
    "smtpd_tls_chain_files",
    "tls_config_file",
    "tls_fast_shutdown_enable",
    "tls_server_sni_maps",
)


def parse_version(text):
    numbers = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def gather(module, config_dir=None):
    tool = postconf(module, config_dir, required=False)
    if tool.path is None:
        return {"installed": False}
    names = DIRECTORY_PARAMETERS + OTHER_PARAMETERS
    values = tool.values(names, expand=True)
    version = parse_version(values["mail_version"])
    daemon_directory = values["daemon_directory"]
    known = set(tool.defaults())
    return {
        "installed": True,
        "version": values["mail_version"],
        "version_info": list(version),
        "directories": {name: values[name] for name in DIRECTORY_PARAMETERS},
        "default_database_type": values["default_database_type"],
        "compatibility_level": values["compatibility_level"],
        "lookup_table_types": sorted(tool.table_types()),
        "sasl_server_types": sorted(tool.sasl_server_types()),
        "sasl_client_types": sorted(tool.sasl_client_types()),
        "tls": {"supported": os.path.exists(os.path.join(daemon_directory, "tlsmgr"))},
        "features": {name: name in known for name in FEATURE_PARAMETERS},
    }
