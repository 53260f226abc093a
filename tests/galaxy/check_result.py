"""Reads galaxy-importer's log and JSON result (tests/galaxy/import.sh); exit 1 with one line per finding.

  check_result.py IMPORTER_LOG IMPORTER_RESULT_JSON COLLECTION_DIR

Findings: every ERROR or WARNING line of the log; a missing result; and what Galaxy would show users incomplete:
tags, the repository/documentation/issues/homepage links, the rendered README, a README for every role, docs for
every module and filter, and the guides of docs/ (Galaxy renders docs/*.md). What to expect comes from the tree.
"""

import glob
import json
import os
import re
import sys


def main(log_path, result_path, collection):
    findings = []
    log = open(log_path).read()
    findings += [line for line in log.splitlines() if re.match(r"(ERROR|WARNING|CRITICAL):", line)]
    if "Importer processing completed successfully" not in log:
        findings.append("the importer did not complete")
    if not os.path.exists(result_path):
        findings.append("no importer_result.json")
        return report(findings)
    result = json.load(open(result_path))
    metadata = result["metadata"]
    if not metadata.get("tags"):
        findings.append("no tags")
    for link in ("repository", "documentation", "issues", "homepage"):
        if not metadata.get(link):
            findings.append("no %s link" % link)
    blob = result["docs_blob"]
    if len(blob.get("collection_readme", {}).get("html") or "") < 1000:
        findings.append("the README did not render")
    contents = {(c["content_type"], c["content_name"]): c for c in blob["contents"]}
    for role in sorted(os.listdir(os.path.join(collection, "roles"))):
        entry = contents.get(("role", role))
        if not entry or not entry.get("readme_html"):
            findings.append("role %s: no README shown" % role)
    for kind, directory in (("module", "modules"), ("filter", "filter")):
        for path in sorted(glob.glob(os.path.join(collection, "plugins", directory, "*.py"))):
            name = os.path.basename(path)[:-3]
            if name == "__init__":
                continue
            entry = contents.get((kind, name))
            if not entry or not entry.get("doc_strings"):
                findings.append("%s %s: no documentation" % (kind, name))
    guides = sorted(os.path.basename(p) for p in glob.glob(os.path.join(collection, "docs", "*.md")))
    shown = sorted(d["name"] for d in blob.get("documentation_files", []))
    if guides != shown:
        findings.append("guides in docs/ %s, shown %s" % (guides, shown))
    print("galaxy: %d content items, %d guides, tags %s, requires_ansible %s"
          % (len(contents), len(shown), metadata.get("tags"), result.get("requires_ansible")))
    return report(findings)


def report(findings):
    for finding in findings:
        print("galaxy: finding: %s" % finding)
    print("galaxy: %d finding(s)" % len(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
