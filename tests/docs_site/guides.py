"""Turns the Markdown guides docs/*.md of a copy of the collection into antsibull-docs extra docs.

  guides.py COLLECTION_COPY

Writes docs/docsite/rst/<guide>.rst (pandoc, GitHub Markdown to reStructuredText, links fixed by md_links.lua), each
headed by the label ansible_collections.mailops.live_smtp.docsite.<guide>, and docs/docsite/extra-docs.yml listing
every guide. The Markdown stays the one source: the repository carries no generated reStructuredText.
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = "ansible_collections.mailops.live_smtp.docsite.%s"
# Guides for users first, in this order when present; every other guide follows by name.
FIRST = ("smtp_check", "reasons", "check_playbook", "oauth2", "awx")


def main(collection):
    guides = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(collection, "docs", "*.md")))
    if not guides:
        sys.exit("guides: no docs/*.md in %s" % collection)
    ordered = [g for g in FIRST if g in guides] + [g for g in guides if g not in FIRST]
    rst_dir = os.path.join(collection, "docs", "docsite", "rst")
    os.makedirs(rst_dir, exist_ok=True)
    for guide in ordered:
        body = subprocess.run(
            ["pandoc", "--from", "gfm-gfm_auto_identifiers", "--to", "rst", "--wrap", "none",
             "--lua-filter", os.path.join(HERE, "md_links.lua"), os.path.join(collection, "docs", guide + ".md")],
            check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
        with open(os.path.join(rst_dir, guide + ".rst"), "w") as handle:
            handle.write(".. _%s:\n\n%s" % (LABEL % guide, body))
    with open(os.path.join(collection, "docs", "docsite", "extra-docs.yml"), "w") as handle:
        handle.write("---\nsections:\n  - title: Guides\n    toctree:\n")
        handle.writelines("      - %s\n" % guide for guide in ordered)
    print("guides: %s" % ", ".join(ordered))


if __name__ == "__main__":
    main(sys.argv[1])
