"""The role README's variable table, defaults/main.yml and meta/argument_specs.yml must agree (names, defaults)."""

import re
import sys

import yaml

role = sys.argv[1]
spec = yaml.safe_load(open(role + "/meta/argument_specs.yml", encoding="utf-8"))["argument_specs"]["main"]["options"]
defaults = yaml.safe_load(open(role + "/defaults/main.yml", encoding="utf-8"))
rows = {}
for line in open(role + "/README.md", encoding="utf-8"):
    match = re.match(r"^\| `(postfix_relay_\w+)` \| (\w+) \| `?(.*?)`? \| ", line)
    if match:
        rows[match.group(1)] = match.group(3)
problems = []
if set(spec) != set(defaults):
    problems.append("argument_specs vs defaults/main.yml: %s" % sorted(set(spec) ^ set(defaults)))
if set(spec) != set(rows):
    problems.append("argument_specs vs README table: %s" % sorted(set(spec) ^ set(rows)))
for name, option in spec.items():
    if defaults.get(name) != option.get("default"):
        problems.append("%s: default %r in defaults/main.yml, %r in argument_specs" % (name, defaults.get(name), option.get("default")))
    default = option.get("default")
    shown = "true" if default is True else "false" if default is False else '""' if default == "" else \
        "{}" if default == {} else str(default)
    if name in rows and rows[name] != shown:
        problems.append("%s: README says %r, argument_specs %r" % (name, rows[name], shown))
if problems:
    sys.exit("README/argument_specs/defaults disagree:\n  " + "\n  ".join(problems))
print("README, defaults and argument_specs agree on %d variables" % len(spec))
