"""Print {message_id: copies} for every message with TAG in its Message-ID in the users' Maildirs."""

import collections
import email
import glob
import json
import sys

tag, users = sys.argv[1], sys.argv[2].split(",")
counts = collections.Counter()
for user in users:
    for path in glob.glob("/home/%s/Maildir/new/*" % user) + glob.glob("/home/%s/Maildir/cur/*" % user):
        with open(path, "rb") as handle:
            message_id = email.message_from_binary_file(handle).get("Message-ID", "")
        if tag in message_id:
            counts[message_id.strip()] += 1
print(json.dumps(counts))
