"""Installed footprint of the peers: the bytes on disk of a distribution and of
everything it depends on (its dependency closure in this venv), as JSON.

Usage: python footprint.py LABEL=dist[,dist...] ... | LABEL:dist (the distribution alone)
The Python interpreter and standard library are not counted.
"""

import json
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(roots):
    seen = set()
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def size(dist_name):
    dist = metadata.distribution(dist_name)
    total = 0
    for f in dist.files or []:
        path = f.locate()
        if path.is_file():
            total += path.stat().st_size
    return total


def main(args):
    out = {}
    for arg in args:
        if "=" in arg:
            label, _, roots = arg.partition("=")
            names = closure(roots.split(","))
        else:
            label, _, alone = arg.partition(":")
            names = {canonicalize_name(alone)}
        out[label] = {"bytes": sum(size(n) for n in names), "distributions": len(names)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
