# -*- coding: utf-8 -*-
"""Benchmark (figures only, never pass/fail): what importing smtp_check's probe costs on a managed host.

Each run is a fresh interpreter that imports the probe package (as the module does) and reports the time the
import took (wall clock, and CPU time, which a busy machine disturbs less) and whether dnspython got loaded with it.
Prints the median, min and max over --runs.

    PYTHONPATH=<dir above ansible_collections> python tests/bench/import_time.py [--runs 15] [--module NAME]

Run it through `bash tests/bench/run.sh`-style staging (tests/lib/env.sh stage_collection) so that
ansible_collections.mailops.live_smtp resolves to this tree. --module measures another module, e.g. the single
file the package replaced, on an older checkout: --module ansible_collections.mailops.live_smtp.plugins.module_utils._smtp_probe
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

DEFAULT_MODULE = "ansible_collections.mailops.live_smtp.plugins.module_utils._probe.probe"
CHILD = """
import importlib, json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
importlib.import_module(sys.argv[1])
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"ms": elapsed * 1000, "cpu_ms": cpu * 1000, "dnspython": "dns.resolver" in sys.modules}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--module", default=DEFAULT_MODULE)
    args = parser.parse_args(argv)
    samples = []
    cpu_samples = []
    dnspython = set()
    for _run in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD, args.module], check=True, capture_output=True, text=True)
        sample = json.loads(out.stdout)
        samples.append(sample["ms"])
        cpu_samples.append(sample["cpu_ms"])
        dnspython.add(sample["dnspython"])
    print("import_time: %s on Python %s.%s, %d fresh interpreters: median %.1f ms wall (min %.1f, max %.1f), "
          "median %.1f ms CPU; dnspython loaded: %s" % (
              args.module, sys.version_info[0], sys.version_info[1], args.runs, statistics.median(samples),
              min(samples), max(samples), statistics.median(cpu_samples),
              " / ".join(sorted(str(flag).lower() for flag in dnspython))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
