"""Print one closing line 'N passed, N failed[, N skipped]' for a meson test run.

Counts individual test cases: GoogleTest JSON reports and gst-check XML
reports written under <build>/test-results, and the exit status of tests that
write neither (0 pass, 77 skip, anything else fail). A test program that
crashed or timed out counts as one failure even if its report looked clean.
Exit status: 0 when nothing failed, 1 otherwise.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def gtest_counts(path):
    data = json.load(open(path))
    passed = failed = skipped = 0
    for suite in data.get("testsuites", []):
        for case in suite.get("testsuite", []):
            if case.get("failures"):
                failed += 1
            elif case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN":
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def check_counts(path):
    passed = failed = 0
    for test in ET.parse(path).getroot().iter():
        if test.tag.endswith("test") and "result" in test.attrib:
            if test.attrib["result"] == "success":
                passed += 1
            else:
                failed += 1
    return passed, failed, 0


def main():
    build = sys.argv[1]
    results = os.path.join(build, "test-results")
    log = os.path.join(build, "meson-logs", "testlog.json")
    total = [0, 0, 0]
    failed_names = []
    with open(log) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    for entry in entries:
        name = entry["name"].split(" / ")[-1].split(":")[-1]  # "project:test"
        status = entry["result"]
        counts = None
        for ext, reader in ((".json", gtest_counts), (".xml", check_counts)):
            path = os.path.join(results, name + ext)
            if os.path.exists(path):
                try:
                    counts = reader(path)
                except Exception:  # a half-written report: the program died
                    counts = None
                break
        if counts is None:
            counts = {"OK": (1, 0, 0), "SKIP": (0, 0, 1)}.get(status, (0, 1, 0))
        elif status not in ("OK", "SKIP") and counts[1] == 0:
            counts = (counts[0], 1, counts[2])
        if counts[1]:
            failed_names.append(name)
        total = [a + b for a, b in zip(total, counts)]
    if failed_names:
        print("failing test programs: " + ", ".join(failed_names))
    line = f"{total[0]} passed, {total[1]} failed"
    if total[2]:
        line += f", {total[2]} skipped"
    print(line)
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
