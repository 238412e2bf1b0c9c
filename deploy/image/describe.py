"""Describe the image in an OCI layout as JSON: reference, digests, layers and sizes.

    python3 describe.py LAYOUT TAG --name NAME [--rootfs DIR]

"compressed_bytes" is what a registry stores and a pull downloads (manifest, config and the
gzip layers); "rootfs_bytes" (with --rootfs) is the unpacked root filesystem (apparent size).
Standard library only: it runs with the build machine's python3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    return layout / "blobs" / algorithm / hexpart


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            total += st.st_size
    return total


def describe(layout: Path, tag: str, name: str, rootfs: Path | None) -> dict[str, object]:
    index = json.loads((layout / "index.json").read_text())
    entries = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    if len(entries) != 1:
        raise SystemExit(f"describe: {layout} has {len(entries)} entries tagged {tag!r}")
    entry = entries[0]
    manifest = json.loads(blob(layout, entry["digest"]).read_text())
    config = json.loads(blob(layout, manifest["config"]["digest"]).read_text())
    layers = [{"digest": d["digest"], "size": d["size"]} for d in manifest["layers"]]
    compressed = entry["size"] + manifest["config"]["size"] + sum(d["size"] for d in layers)
    out: dict[str, object] = {
        "name": name,
        "tag": tag,
        "reference": f"{name}:{tag}",
        "digest": entry["digest"],
        "platform": f"{config['os']}/{config['architecture']}",
        "user": config["config"].get("User", ""),
        "entrypoint": config["config"].get("Entrypoint", []),
        "layers": layers,
        "compressed_bytes": compressed,
    }
    if rootfs is not None:
        out["rootfs_bytes"] = tree_bytes(rootfs)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layout", type=Path)
    parser.add_argument("tag")
    parser.add_argument("--name", required=True)
    parser.add_argument("--rootfs", type=Path)
    args = parser.parse_args(argv)
    json.dump(describe(args.layout, args.tag, args.name, args.rootfs), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
