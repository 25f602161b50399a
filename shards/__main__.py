"""``python -m shards verify DIR``, ``python -m shards show FILE --index N --out PNG`` and
``python -m shards export FILE --out DIR --convention pixel3dmm [--index N ...] [--model PKL]
[--normals-frame tracker]``."""

from __future__ import annotations

import argparse
import sys

from shards.contact_sheet import write_contact_sheet
from shards.manifest import read_manifest, verify_folder
from shards.schema import ShardError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shards")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check every shard of a folder against its manifest")
    verify.add_argument("folder")
    show = sub.add_parser("show", help="contact sheet (rgb | normal | uv | mask) of a sample")
    show.add_argument("file")
    show.add_argument("--index", type=int, default=0)
    show.add_argument("--out", required=True)
    export = sub.add_parser("export", help="samples as Pixel3DMM tracker frames")
    export.add_argument("file")
    export.add_argument("--out", required=True)
    export.add_argument("--convention", choices=["pixel3dmm"], required=True)
    export.add_argument("--index", type=int, nargs="+", help="samples (default: all)")
    export.add_argument("--model", help="FLAME model pickle: label ears and scalp, write "
                                         "PIPnet_landmarks/ (default: neither)")
    export.add_argument("--normals-frame", choices=["model", "tracker"], default="model",
                        help="model: as stored; tracker: neck rotation removed, as "
                             "Pixel3DMM's tracker renders them")
    args = parser.parse_args(argv)
    if args.command == "export":
        from flame import ModelFileError, load_model
        from shards.pixel3dmm_export import export_pixel3dmm

        try:
            model = load_model(args.model) if args.model else None
            ids = export_pixel3dmm(args.file, args.out, args.index, model, args.normals_frame)
        except (ShardError, IndexError, ModelFileError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{args.file}: {len(ids)} samples -> {args.out} (Pixel3DMM frames)")
        return 0
    if args.command == "verify":
        problems = verify_folder(args.folder)
        for problem in problems:
            print(f"FAIL {problem}")
        if problems:
            return 1
        shards = read_manifest(args.folder)["shards"]
        print(f"OK {args.folder}: {len(shards)} shards, "
              f"{sum(r['samples'] for r in shards)} samples match the manifest")
        return 0
    try:
        out = write_contact_sheet(args.file, args.index, args.out)
    except (ShardError, IndexError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
