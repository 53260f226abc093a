#!/usr/bin/env bash
# run_all.sh stage "docs": the collection's docs site, built offline the way docs.ansible.com builds collection docs
# (antsibull-docs sphinx-init + its build.sh, Sphinx with warnings as errors): every module, filter and role from
# their specs, plus every Markdown guide of docs/ (turned into antsibull-docs extra docs by guides.py). Then checks
# that each expected page exists, that the reason-word reference lists every word of docs/reasons.md, and takes
# screenshots of the smtp_check page, a role page and the reasons page with headless Chromium.
# Output: tests/output/docs_site/html/index.html (the site) and tests/output/docs_site/*.png.
# Usage: tests/docs_site/build.sh COLLECTION_DIR OUT_DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/toolvenv.sh
. "$ROOT/tests/lib/toolvenv.sh"
coll=$1 out=$2
results="$ROOT/tests/output/docs_site"

docs=$(tool_venv antsibull-docs "$ROOT/tests/tools/antsibull-docs.txt")
export PATH="$docs/bin:$PATH"
# A copy of the collection gets the generated extra docs; the staged tree stays as git has it.
copy="$out/collections/ansible_collections/mailops/live_smtp"
mkdir -p "$copy"
rsync -a --exclude tests/output "$coll/" "$copy/"
export ANSIBLE_COLLECTIONS_PATH="$out/collections"
python "$ROOT/tests/docs_site/guides.py" "$copy"

site="$out/site"
mkdir -m 700 "$site"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" mailops.live_smtp >/dev/null
# Offline: no intersphinx inventories to fetch, so references into docs.ansible.com stay plain text; the stand-in's
# JSON examples carry <placeholders> that Pygments cannot lex. wide-tables.css: the guides' tables wrap.
mkdir -p "$site/_static"
cp "$ROOT/tests/docs_site/wide-tables.css" "$site/_static/"
cat >> "$site/conf.py" <<'PY'

# Added by tests/docs_site/build.sh (offline build).
intersphinx_mapping = {}
suppress_warnings = ['ref.ref', 'misc.highlighting_failure']
html_static_path = ['_static']
html_css_files = ['wide-tables.css']
PY
bash "$site/build.sh"

html="$site/build/html/collections/mailops/live_smtp"
python - "$html" "$copy" <<'PY'
import json, os, re, subprocess, sys
html, collection = sys.argv[1:3]
missing = []
pages = {}
for kind in ("module", "filter", "role"):
    listed = json.loads(subprocess.run(["ansible-doc", "-t", kind, "-l", "mailops.live_smtp", "--json"], check=True,
                                       stdout=subprocess.PIPE, universal_newlines=True).stdout)
    pages[kind] = sorted(name.split(".")[-1] for name in listed)
    missing += ["%s_%s.html" % (name, kind) for name in pages[kind] if not os.path.exists(os.path.join(html, "%s_%s.html" % (name, kind)))]
guides = sorted(f[:-3] for f in os.listdir(os.path.join(collection, "docs")) if f.endswith(".md"))
missing += ["docsite/%s.html" % g for g in guides if not os.path.exists(os.path.join(html, "docsite", g + ".html"))]
words = sorted(set(re.findall(r"^\| `([a-z0-9_]+)` \|", open(os.path.join(collection, "docs", "reasons.md")).read(), re.M)))
reasons = open(os.path.join(html, "docsite", "reasons.html")).read()
absent = [w for w in words if ">%s<" % w not in reasons]
for page in missing:
    print("docs: missing page %s" % page)
for word in absent:
    print("docs: the reason reference page lacks %s" % word)
if not words:
    print("docs: no reason words found in docs/reasons.md")
print("docs: pages for modules %s, filters %s, roles %s, guides %s; %d reason words on the reasons page"
      % (pages["module"], pages["filter"], pages["role"], guides, len(words) - len(absent)))
sys.exit(1 if missing or absent or not words or not pages["module"] or not pages["role"] else 0)
PY

rm -rf "$results"
mkdir -p "$results"
cp -a "$site/build/html" "$results/html"
# The smtp_check page, one role page (postfix_relay when it exists) and the reason-word reference.
role=postfix_relay_role.html
[ -f "$html/$role" ] || role=$(cd "$html" && find . -maxdepth 1 -name '*_role.html' | sort | head -n 1)
for page in smtp_check_module.html "${role#./}" docsite/reasons.html; do
  shot="$results/${page//\//_}"
  shot=${shot%.html}.png
  profile=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
    --screenshot="$shot" --window-size=1280,2000 \
    "file://$results/html/collections/mailops/live_smtp/$page" >/dev/null 2>&1 || true
  rm -rf "$profile"
  python - "$shot" <<'PY'
import os, struct, sys
path = sys.argv[1]
data = open(path, "rb").read() if os.path.exists(path) else b""
size = struct.unpack(">II", data[16:24]) if data[:8] == b"\x89PNG\r\n\x1a\n" else None
# A blank or error page compresses to a few kB; a rendered docs page is far larger.
ok = size == (1280, 2000) and len(data) > 50000
print("docs: screenshot %s: %s, %d bytes%s" % (path, "%dx%d" % size if size else "no PNG", len(data), "" if ok else ": FAILED"))
sys.exit(0 if ok else 1)
PY
done
echo "docs: site in $results/html/index.html"
