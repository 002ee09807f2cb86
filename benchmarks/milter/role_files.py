"""The rspamd configuration of the benchmark's `role` mode, decided by the rspamd role's model.

    python3 role_files.py DOMAIN SELECTOR PUBLIC_KEY_BASE64 KEY_IN_CONTAINER OUTPUT_DIR

Writes, under OUTPUT_DIR (copied into the container by ./run):
  tree/PATH       each file of desired_state()'s `files`, at its absolute PATH
  files.list      those paths, one a line
  keys.list       "SRC PATH MODE OWNER GROUP" of each key file (SRC: the key inside the container)
  main.cf         Postfix's parameters of desired_state()'s `postfix` contract, "name = value" a line
Runs on the control node against the checkout (.cache/collections links to it).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".cache", "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import desired_state  # noqa: E402


def main(domain, selector, public_key, key_src, out):
    keys = {domain: {"signing": selector, "retired": [],
                     "keys": [{"selector": selector, "src": key_src, "sha256": "x" * 64, "public_key": public_key}]}}
    state = desired_state({"rspamd_dkim_domains": [domain]}, keys)
    paths = []
    for item in state["files"]:
        target = os.path.join(out, "tree", item["path"].lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(item["content"])
        paths.append(item["path"])
    with open(os.path.join(out, "files.list"), "w", encoding="utf-8") as handle:
        handle.write("".join(path + "\n" for path in paths))
    with open(os.path.join(out, "keys.list"), "w", encoding="utf-8") as handle:
        for key in state["key_files"]:
            handle.write("%s %s %s %s %s\n" % (key["src"], key["path"], key["mode"], key["owner"], key["group"]))
    with open(os.path.join(out, "main.cf"), "w", encoding="utf-8") as handle:
        for name, value in state["postfix"]["main_cf"].items():
            if isinstance(value, list):
                value = ", ".join(value)
            handle.write("%s = %s\n" % (name, value))


if __name__ == "__main__":
    main(*sys.argv[1:6])
