#!/usr/bin/env python3
"""Generates a synthetic Auth0 export for scale benchmarks.

    scripts/gen-auth0-users.py N OUTDIR [--changed-fraction F] [--seed S]

writes OUTDIR/auth0_users.ndjson (Auth0's user export job, one user per line) and
OUTDIR/auth0_passwords.ndjson (the bcrypt password export from a support ticket, joined on
`_id.$oid`), plus OUTDIR/migration.toml naming both. With --changed-fraction F, every
1/F-th user gets a different given_name (and name): a re-export in which F of the users
changed, for measuring an update plan. The same N and seed always give the same users.

Every name and address is made up. The bcrypt strings are well-formed but not hashes of any
password: the benchmark measures throughput, not logins.
"""

import argparse
import json
import os
import random

ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
GIVEN = ["Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Gray", "Harper", "Indy", "Jules"]
FAMILY = ["Placeholder", "Sample", "Fixture", "Example", "Stub", "Dummy", "Mock", "Test"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("n", type=int)
    p.add_argument("outdir")
    p.add_argument("--changed-fraction", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--url", default="sandbox", help="the manifest's [target] url")
    a = p.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rnd = random.Random(a.seed)
    every = round(1 / a.changed_fraction) if a.changed_fraction > 0 else 0
    users = open(os.path.join(a.outdir, "auth0_users.ndjson"), "w")
    hashes = open(os.path.join(a.outdir, "auth0_passwords.ndjson"), "w")
    for i in range(a.n):
        oid = "%024x" % (0x5E0C1FA0DC536ABD00000000 + i)
        given = GIVEN[i % len(GIVEN)]
        family = FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        if every and i % every == 0:
            given = given + "-changed"
        email = "user%d@example.com" % i
        user = {
            "user_id": "auth0|" + oid,
            "email": email,
            "email_verified": i % 3 != 0,
            "name": given + " " + family,
            "given_name": given,
            "family_name": family,
            "nickname": "user%d" % i,
            "picture": "https://avatars.example.com/%d.png" % i,
            "created_at": "2020-01-01T04:27:12.032Z",
            "updated_at": "2021-04-22T19:33:14.162Z",
            "last_login": "2021-04-22T19:16:34.126Z",
            "logins_count": i % 200,
            "identities": [
                {
                    "connection": "Username-Password-Authentication",
                    "provider": "auth0",
                    "user_id": oid,
                    "isSocial": False,
                }
            ],
            "user_metadata": {"locale": "en-US"},
            "app_metadata": {"plan": "pro" if i % 5 == 0 else "free"},
        }
        users.write(json.dumps(user, separators=(",", ":")) + "\n")
        salt_and_hash = "".join(rnd.choice(ALPHABET) for _ in range(53))
        row = {
            "_id": {"$oid": oid},
            "email_verified": user["email_verified"],
            "email": email,
            "passwordHash": "$2b$10$" + salt_and_hash,
            "password_set_date": {"$date": "2020-01-01T04:28:12.412Z"},
            "tenant": "bench",
            "connection": "Username-Password-Authentication",
            "_tmp_is_unique": True,
        }
        hashes.write(json.dumps(row, separators=(",", ":")) + "\n")
    users.close()
    hashes.close()
    with open(os.path.join(a.outdir, "migration.toml"), "w") as m:
        m.write(
            '[target]\nurl = %s\norganization = "bench"\n\n'
            '[[users]]\nname = "auth0-bench"\nprovider = "auth0"\n'
            'path = "auth0_users.ndjson"\npasswords = "auth0_passwords.ndjson"\n'
            % json.dumps(a.url)
        )


if __name__ == "__main__":
    main()
