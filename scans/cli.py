"""``python -m scans {list,check}`` (synthetic data sets: ``python -m synthetic``)."""

from __future__ import annotations

import argparse
import json
import sys

from scans.datasets import ADAPTERS, list_scans, load_scan
from scans.errors import ScanError
from scans.images import load_photo


def parse_options(pairs: list[str]) -> dict:
    """Adapter options from ``KEY=VALUE`` strings (dashes in keys become underscores, digits
    become ints)."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key.replace("-", "_")] = int(value) if value.isdigit() else value
    return out


def check_records(records) -> list[tuple[str, str]]:
    """Load every scan and decode every photo; return (scan_id, problem) for each failure,
    a photo the reader dropped and a listed texture that did not decode included."""
    problems = []
    for record in records:
        try:
            scan = load_scan(record)
        except ScanError as exc:
            problems.append((record.scan_id, str(exc)))
            continue
        problems += [(record.scan_id, f"photo {s['camera_id']} dropped: {s['reason']}")
                     for s in scan.skipped_photos]
        if scan.texture_reason != record.options.get("texture_reason", scan.texture_reason):
            problems.append((record.scan_id, f"texture: {scan.texture_reason}"))  # unreadable
        for photo in scan.photos:
            try:
                load_photo(photo)
            except ScanError as exc:
                problems.append((record.scan_id, f"photo {photo.camera_id}: {exc}"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scans", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "check"):
        cmd = sub.add_parser(name, help=f"{name} the scans of a data set")
        cmd.add_argument("--dataset", required=True, choices=sorted(ADAPTERS))
        cmd.add_argument("--root", required=True)
        cmd.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                         help="adapter option, e.g. mv_root=PATH, frames_per_segment=2")
    args = parser.parse_args(argv)
    try:
        records = list_scans(args.dataset, args.root, **parse_options(args.option))
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "list":
        for record in records:
            print(json.dumps(record.to_json()))
        return 0
    problems = check_records(records)
    for scan_id, problem in problems:
        print(f"{scan_id}: {problem}")
    print(f"{len(records) - len(problems)} of {len(records)} scans read cleanly",
          file=sys.stderr)
    return 1 if problems else 0
