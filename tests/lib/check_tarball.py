"""Checks a built collection tarball for things that must never ship.

Usage: python tests/lib/check_tarball.py mailops-live_smtp-X.Y.Z.tar.gz
Exit 1 and one line per problem when the tarball holds test output, tool caches, vault password files, private keys
or vaulted values outside tests/ (the tests carry their own throw-away test secrets; guides may show a truncated
vaulted value as an example).
"""

from __future__ import annotations

import fnmatch
import sys
import tarfile

# Never in a release, wherever they are.
FORBIDDEN_DIRS = ("tests/output/", ".ansible/", ".git/", ".pytest_cache/", ".hypothesis/", "__pycache__/", ".ci/")
FORBIDDEN_NAMES = ("*.pyc", "*.tar.gz", ".vault_pass*", "*vault_pass*", "*vault-pass*", "*vault_password*",
                   "*vault-password*", "*.retry", "sasl_passwd", "sasl_passwd.db", "*.netrc", ".env")
# Allowed only under tests/ (throw-away test secrets), never in content users install.
SECRET_NAMES = ("*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*")
SECRET_MARKERS = (b"$ANSIBLE_VAULT;", b"PRIVATE KEY-----")
# Guides may show what a vaulted value looks like (truncated); content files may not carry one.
PROSE = ("*.md", "*.rst", "*.txt")


def problems(tarball):
    found = []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            # ansible-galaxy puts the collection at the root of the tarball
            path = member.name[2:] if member.name.startswith("./") else member.name
            name = path.rsplit("/", 1)[-1]
            under_tests = path.startswith("tests/")
            for d in FORBIDDEN_DIRS:
                if ("/" + d) in ("/" + path + "/"):
                    found.append("%s: inside %s" % (path, d))
            if any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN_NAMES):
                found.append("%s: looks like a secret or a leftover file" % path)
            if not member.isfile() or under_tests:
                continue
            if any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_NAMES):
                found.append("%s: key material outside tests/" % path)
            data = tar.extractfile(member).read()
            prose = any(fnmatch.fnmatch(name, pattern) for pattern in PROSE)
            for marker in SECRET_MARKERS:
                if marker in data and not (prose and marker == b"$ANSIBLE_VAULT;"):
                    found.append("%s: contains %r outside tests/" % (path, marker.decode()))
    return found


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    found = problems(argv[1])
    for line in found:
        print("check_tarball: %s" % line)
    print("check_tarball: %s: %d problem(s)" % (argv[1], len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
