#!/usr/bin/env python3
"""Builds spinflow's OCI image for containerd-shim-spin, without a container engine.

The image is what `FROM scratch` + `COPY spin.toml` + `COPY <each .wasm>` would
give: one layer holding /spin.toml, every component's .wasm at the path
spin.toml names (relative to `/`, where the shim looks for the app) and the
files of each component's `files` mounts at their `source` paths (the MLflow
web UI of mlflow-ui: the shim mounts local directories directly, read-only,
from where spin.toml says). Pods run it with `command: ["/"]`.

Output: an OCI image layout archive (oci-layout, index.json, blobs/), with an
image index for linux/amd64 and linux/arm64 that share the same layer (wasm is
portable; the platform only has to match the node for containerd to pull it).
The archive is reproducible: sorted entries, fixed owners, modes and
timestamps (SOURCE_DATE_EPOCH, default 0), gzip without a timestamp; building
twice from the same inputs gives the same digest.

Use it with:
  k3d image import target/oci/spinflow.tar -c <cluster>     (or: kind load image-archive ...)
  skopeo copy oci-archive:target/oci/spinflow.tar docker://REGISTRY/spinflow:TAG
  docker load -i target/oci/spinflow.tar                      (Docker 25+)
or stage a context for `docker build -f deploy/Dockerfile target/oci/rootfs`.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tomllib
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = (("linux", "amd64"), ("linux", "arm64"))

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def app_files(manifest: Path, sources: dict[str, Path] | None = None) -> dict[PurePosixPath, Path]:
    """Image path -> local file: /spin.toml, each component's local `source` and
    the files of its `files` mounts.

    `sources` puts another local file at a component's path (for example iris-api
    with a registry model baked in): spin.toml, and so the image, stay as they are.
    """
    sources = dict(sources or {})
    spin = tomllib.loads(manifest.read_text())
    files = {PurePosixPath("/spin.toml"): manifest}
    for cid, comp in sorted(spin.get("component", {}).items()):
        source = comp.get("source")
        if not isinstance(source, str):
            raise SystemExit(f"component {cid}: only local `source` paths can go in the image, got {source!r}")
        rel = app_relative(cid, source)
        local = sources.pop(cid, manifest.parent / source)
        if not local.is_file():
            raise SystemExit(f"component {cid}: {local} is missing; run `make build` first")
        files[PurePosixPath("/") / rel] = local
        files.update(mounted_files(cid, comp, manifest.parent))
    if sources:
        raise SystemExit(f"no component {', '.join(sorted(sources))} in {manifest}")
    return files


def app_relative(cid: str, path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts:
        raise SystemExit(f"component {cid}: {path} must be relative and inside the app dir")
    return rel


def mounted_files(cid: str, comp: dict, app_dir: Path) -> dict[PurePosixPath, Path]:
    """The files of a component's `{ source = DIR, destination = ... }` mounts, at
    `/DIR/...` (the shim resolves `source` against `/`, where spin.toml is). Only
    that form is packaged: it is the one the shim mounts directly, and the one
    spin.toml uses (glob patterns and `exclude_files` are refused, not guessed at).
    """
    if comp.get("exclude_files"):
        raise SystemExit(f"component {cid}: `exclude_files` is not packaged by this script")
    found = {}
    for mount in comp.get("files", []):
        if not isinstance(mount, dict) or not isinstance(mount.get("source"), str):
            raise SystemExit(f"component {cid}: only `{{ source = DIR, destination = ... }}` files mounts "
                             f"are packaged, got {mount!r}")
        rel = app_relative(cid, mount["source"])
        local = app_dir / rel
        if not local.is_dir():
            raise SystemExit(f"component {cid}: files mount {local} is missing; run `make build` first")
        for path in sorted(local.rglob("*")):
            if path.is_symlink():
                raise SystemExit(f"component {cid}: {path} is a symlink; the image holds plain files only")
            if path.is_file():
                found[PurePosixPath("/") / rel / path.relative_to(local).as_posix()] = path
    return found


def layer_tar(files: dict[PurePosixPath, Path], mtime: int) -> bytes:
    """An uncompressed tar of the files and their parent dirs, byte-for-byte reproducible."""
    dirs = sorted({p for path in files for p in path.parents if p != PurePosixPath("/")})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(str(d).lstrip("/") + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for path in sorted(files):
            data = files[path].read_bytes()
            info = tarfile.TarInfo(str(path).lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(manifest: Path, ref: str, mtime: int,
          sources: dict[str, Path] | None = None) -> tuple[dict[str, bytes], bytes, str]:
    """Blobs by digest, the index.json bytes, and the image index digest."""
    files = app_files(manifest, sources)
    raw = layer_tar(files, mtime)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(raw)
    layer = gz.getvalue()
    blobs = {sha256(layer): layer}
    created = datetime.datetime.fromtimestamp(mtime, tz=datetime.timezone.utc)
    manifests = []
    for os_name, arch in PLATFORMS:
        config = canonical_json({
            "architecture": arch,
            "os": os_name,
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config": {"Entrypoint": ["/"], "Labels": {"org.opencontainers.image.title": "spinflow"}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
            "history": [{"created_by": "deploy/oci_image.py: /spin.toml, the components' .wasm and files"}],
        })
        image_manifest = canonical_json({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": descriptor(MT_CONFIG, config),
            "layers": [descriptor(MT_LAYER, layer)],
        })
        blobs[sha256(config)] = config
        blobs[sha256(image_manifest)] = image_manifest
        manifests.append(descriptor(MT_MANIFEST, image_manifest,
                                    platform={"architecture": arch, "os": os_name}))
    image_index = canonical_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests})
    blobs[sha256(image_index)] = image_index
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    index_json = canonical_json({
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [descriptor(MT_INDEX, image_index, annotations={
            # ctr/k3d/kind name the imported image from these.
            "io.containerd.image.name": normalize_ref(ref),
            "org.opencontainers.image.ref.name": tag,
        })],
    })
    return blobs, index_json, sha256(image_index)


def normalize_ref(ref: str) -> str:
    """`spinflow:dev` -> `docker.io/library/spinflow:dev`, as containerd names images."""
    name = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        return "docker.io/library/" + name
    if "." not in first and ":" not in first and first != "localhost":
        return "docker.io/" + name
    return name


def write_archive(path: Path, blobs: dict[str, bytes], index_json: bytes, mtime: int) -> None:
    entries = [("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})), ("index.json", index_json)]
    entries += [(f"blobs/sha256/{d.removeprefix('sha256:')}", b) for d, b in sorted(blobs.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs/", "blobs/sha256/"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))


def stage_rootfs(dest: Path, manifest: Path, sources: dict[str, Path] | None = None) -> None:
    """The image's filesystem as a directory: the context for deploy/Dockerfile."""
    if dest.exists():
        shutil.rmtree(dest)
    for image_path, local in app_files(manifest, sources).items():
        target = dest / str(image_path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-f", "--manifest", type=Path, default=REPO / "spin.toml")
    p.add_argument("-t", "--tag", default="spinflow:dev", help="image reference recorded in the archive")
    p.add_argument("-o", "--output", type=Path, default=REPO / "target" / "oci" / "spinflow.tar")
    p.add_argument("--rootfs", type=Path, help="also stage the image filesystem here (docker build context)")
    p.add_argument("--component-source", action="append", default=[], metavar="ID=FILE",
                   help="put FILE at component ID's source path (e.g. iris-api with a baked model)")
    args = p.parse_args(argv)
    sources = {}
    for pair in args.component_source:
        cid, sep, path = pair.partition("=")
        if not sep:
            p.error(f"--component-source {pair!r}: expected ID=FILE")
        sources[cid] = Path(path)
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    blobs, index_json, digest = build(args.manifest, args.tag, mtime, sources)
    write_archive(args.output, blobs, index_json, mtime)
    if args.rootfs:
        stage_rootfs(args.rootfs, args.manifest, sources)
    print(f"{args.output}: {normalize_ref(args.tag)} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
