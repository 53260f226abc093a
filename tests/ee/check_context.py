"""Checks of the execution environment build context (tests/ee/create.sh).

  check_context.py definition EXAMPLE TARBALL   print the example EE definition, installing the collection from TARBALL
  check_context.py check CONTEXT TARBALL INSTALLED COLLECTION
      CONTEXT: what ansible-builder create wrote; INSTALLED: a collections dir with TARBALL installed; COLLECTION: the
      source tree (its meta/ee-*.txt are the expected requirements). Exit 1 with one line per problem.
"""

import hashlib
import os
import subprocess
import sys

import yaml

IN_IMAGE = "/build/collections"


def definition(example, tarball):
    data = yaml.safe_load(open(example))
    name = os.path.basename(tarball)
    data["dependencies"]["galaxy"] = {"collections": [{"name": "%s/%s" % (IN_IMAGE, name), "type": "file"}]}
    # ansible-builder copies _build/ to /build before the galaxy install.
    data["additional_build_files"] = [{"src": os.path.abspath(tarball), "dest": "collections"}]
    yaml.safe_dump(data, sys.stdout, sort_keys=False)


def lines(path):
    """Requirement lines without comments and blanks."""
    return [line.split("#")[0].strip() for line in open(path) if line.split("#")[0].strip()]


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check(context, tarball, installed, collection):
    problems = []
    build = os.path.join(context, "_build")
    containerfile = open(os.path.join(context, "Containerfile")).read()
    copied = os.path.join(build, "collections", os.path.basename(tarball))
    if not os.path.exists(copied) or sha256(copied) != sha256(tarball):
        problems.append("the context does not hold the built tarball at %s" % copied)
    requirements = yaml.safe_load(open(os.path.join(build, "requirements.yml")))
    names = [entry["name"] for entry in requirements.get("collections", [])]
    if names != ["%s/%s" % (IN_IMAGE, os.path.basename(tarball))]:
        problems.append("_build/requirements.yml lists %s" % names)
    for needle in ("ansible-galaxy collection install", "requirements.yml", "introspect", "COPY _build /build",
                   "install-from-bindep", "ansible-galaxy collection list mailops.live_smtp"):
        if needle not in containerfile:
            problems.append("the Containerfile has no step with %r" % needle)

    # What the image build does next: introspect the installed collections for their requirements.
    meta = yaml.safe_load(open(os.path.join(collection, "meta", "execution-environment.yml")))
    expected = {kind: lines(os.path.join(collection, meta["dependencies"][kind])) for kind in ("python", "system")}
    out = os.path.join(os.path.dirname(installed), "introspect")
    os.makedirs(out, exist_ok=True)
    found = subprocess.run(
        [sys.executable, os.path.join(build, "scripts", "introspect.py"), "introspect", "--sanitize", installed,
         "--write-pip", os.path.join(out, "requirements.txt"), "--write-bindep", os.path.join(out, "bindep.txt")],
        check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    print(found)
    for kind, written in (("python", "requirements.txt"), ("system", "bindep.txt")):
        if not expected[kind]:
            problems.append("meta/execution-environment.yml names no %s requirement" % kind)
        got = open(os.path.join(out, written)).read() if os.path.exists(os.path.join(out, written)) else ""
        for requirement in expected[kind]:
            if "%s  # from collection mailops.live_smtp" % requirement not in got:
                problems.append("introspection did not pick up %s requirement %r from the collection" % (kind, requirement))
    for problem in problems:
        print("ee: %s" % problem)
    if not problems:
        print("ee: context ok: tarball, requirements.yml and the Containerfile steps; introspection picked up %s"
              % ", ".join(expected["python"] + expected["system"]))
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "definition":
        definition(*sys.argv[2:4])
        sys.exit(0)
    sys.exit(check(*sys.argv[2:6]))
