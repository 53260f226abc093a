"""Writes N generated passwords (hypothesis, fixed seed) as an !unsafe YAML vars file and a JSON list.

Usage: gen_passwords.py COUNT YAML_OUT JSON_OUT
The alphabet is everything a password can hold and msmtp can pass (no CR, LF or NUL), with the awkward cases
forced in: quotes, spaces (also leading/trailing), #, %, backslash, colon, $, {{ }}, {% %}, unicode, and strings YAML
would read as other types (True, null, 0x1F, =).
"""

import json
import random
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

AWKWARD = [" leading space", "trailing space ", "  both  ", "{{ lookup('env', 'HOME') }}", "{% raw %}x", "#hash",
           "100%", "back\\slash\\", "co:lon", "$HOME $(id) `id`", '"double" quote', "'single' quote", "tab\there",
           "unicodé ünï 密码 🔑", " ", "a", "\\", "'", '"', "=", "pass word with ;&| shell", "%s%n%d",
           "True", "null", "0x1F", "1.5", "~", "<<", "{#", "{{", "}}", "-", "? x", "&anchor", "*alias", "!tag"]
ALPHABET = st.one_of(
    st.sampled_from(list(" \t\"'#%\\:${}!&;|<>*?~`=,")),
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Cf")),
)
PASSWORDS = st.text(ALPHABET, min_size=1, max_size=64)


def generate(count):
    found = []

    @settings(max_examples=count * 3, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(PASSWORDS)
    def collect(password):
        if len(found) < count and password not in found:
            found.append(password)

    collect()  # pylint: disable=no-value-for-parameter
    rng = random.Random(20261128)
    extra = [p for p in AWKWARD if p not in found]
    passwords = (extra + found)[:count]
    rng.shuffle(passwords)
    return passwords


def yaml_string(value):
    """A JSON string is a valid YAML double-quoted scalar. !unsafe keeps Ansible from templating a value with a brace,
    and only such a value: ansible-core 2.19 re-resolves an !unsafe scalar as if it were plain, so !unsafe "0x1F"
    loads as the int 31 and !unsafe "=" fails to load."""
    quoted = json.dumps(value, ensure_ascii=False)
    return "!unsafe " + quoted if "{" in value else quoted


def main():
    count, yaml_out, json_out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    passwords = generate(count)
    with open(yaml_out, "w", encoding="utf-8") as handle:
        for number, password in enumerate(passwords):
            handle.write("vault_h%03d: %s\n" % (number, yaml_string(password)))
    with open(json_out, "w", encoding="utf-8") as handle:
        json.dump(passwords, handle, ensure_ascii=False)
    print(len(passwords))


if __name__ == "__main__":
    main()
