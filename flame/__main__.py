"""``python -m flame info PATH``: a JSON summary of a FLAME model file (exit 1 if refused)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flame.model import ModelFileError, load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flame")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="print a JSON summary of a FLAME model file")
    info.add_argument("path", type=Path, help="model pickle (or its folder)")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.path)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(model.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
