"""``python -m synthetic --dataset D --out ROOT --truth TRUTH``: write a synthetic data set in
the data set's real layout and its ground truth; prints the adapter options that read it."""

from __future__ import annotations

import argparse
import inspect
import json
import sys

from synthetic import DATASETS, write_synthetic

DEFAULTS = inspect.signature(write_synthetic).parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthetic", description=__doc__)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--out", required=True, help="data-set root to write")
    parser.add_argument("--truth", required=True, help="ground-truth root (outside --out)")
    for name in ("subjects", "expressions", "seed", "scan_vertices", "views",
                 "nphm_scan_faces"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int,
                            default=DEFAULTS[name].default)
    args = parser.parse_args(argv)
    options = write_synthetic(args.dataset, args.out, args.truth, args.subjects,
                              args.expressions, args.seed, args.scan_vertices,
                              views=args.views, nphm_scan_faces=args.nphm_scan_faces)
    print(json.dumps({"dataset": args.dataset, "root": args.out, "options": options}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
