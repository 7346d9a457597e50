"""The OCI image that containerd-shim-spin runs, built by deploy/oci_image.py.

No container engine runs on our machines, so the image is built as an OCI
image layout archive and checked here the way a registry/containerd would:
digests and sizes of every blob, one manifest per platform, and a layer
holding /spin.toml and each .wasm at the path spin.toml names.
"""

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))
import oci_image  # noqa: E402


def read_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def blob(files: dict[str, bytes], desc: dict) -> bytes:
    data = files["blobs/sha256/" + desc["digest"].removeprefix("sha256:")]
    assert len(data) == desc["size"], desc
    assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]
    return data


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("oci") / "spinflow.tar"
    subprocess.run([sys.executable, str(REPO / "deploy/oci_image.py"), "-t", "registry.example/spinflow:1.2",
                    "-o", str(out)], check=True, capture_output=True)
    return out


def test_archive_is_a_valid_oci_layout_with_one_manifest_per_platform(archive):
    files = read_archive(archive)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    (top,) = index["manifests"]
    assert top["annotations"]["io.containerd.image.name"] == "registry.example/spinflow:1.2"
    assert top["annotations"]["org.opencontainers.image.ref.name"] == "1.2"
    image_index = json.loads(blob(files, top))
    platforms = set()
    for desc in image_index["manifests"]:
        manifest = json.loads(blob(files, desc))
        config = json.loads(blob(files, manifest["config"]))
        assert (config["os"], config["architecture"]) == (desc["platform"]["os"], desc["platform"]["architecture"])
        platforms.add((config["os"], config["architecture"]))
        (layer_desc,) = manifest["layers"]
        raw = gzip.decompress(blob(files, layer_desc))
        assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}


def test_layer_holds_spin_toml_and_each_wasm_where_spin_toml_says(archive):
    files = read_archive(archive)
    image_index = json.loads(blob(files, json.loads(files["index.json"])["manifests"][0]))
    manifest = json.loads(blob(files, image_index["manifests"][0]))
    raw = gzip.decompress(blob(files, manifest["layers"][0]))
    with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
        members = {m.name: m for m in layer.getmembers()}
        content = {n: layer.extractfile(m).read() for n, m in members.items() if m.isfile()}
    spin = tomllib.loads((REPO / "spin.toml").read_text())
    expected = {"spin.toml": (REPO / "spin.toml").read_bytes()}
    for comp in spin["component"].values():
        expected[comp["source"]] = (REPO / comp["source"]).read_bytes()
    assert content == expected
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())


def test_build_is_reproducible(archive, tmp_path):
    again = tmp_path / "again.tar"
    oci_image.main(["-t", "registry.example/spinflow:1.2", "-o", str(again)])
    assert again.read_bytes() == archive.read_bytes()


def test_docker_context_has_the_same_files(tmp_path):
    oci_image.stage_rootfs(tmp_path / "rootfs", REPO / "spin.toml")
    staged = sorted(str(p.relative_to(tmp_path / "rootfs")) for p in (tmp_path / "rootfs").rglob("*") if p.is_file())
    spin = tomllib.loads((REPO / "spin.toml").read_text())
    assert staged == sorted(["spin.toml", *(c["source"] for c in spin["component"].values())])
    assert (REPO / "deploy/Dockerfile").read_text().splitlines()[-2:] == ["FROM scratch", "COPY . /"]


def test_a_component_can_be_replaced_by_another_file_at_the_same_path(tmp_path):
    """`make k8s-image BAKE_MODEL=...` puts iris-api with a baked model in the image."""
    baked = tmp_path / "iris_api.baked.wasm"
    baked.write_bytes(b"\0asm baked")
    out = tmp_path / "baked.tar"
    oci_image.main(["-t", "x:1", "-o", str(out), "--component-source", f"iris-api={baked}"])
    files = read_archive(out)
    image_index = json.loads(blob(files, json.loads(files["index.json"])["manifests"][0]))
    manifest = json.loads(blob(files, image_index["manifests"][0]))
    raw = gzip.decompress(blob(files, manifest["layers"][0]))
    with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
        content = {m.name: layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()}
    spin = tomllib.loads((REPO / "spin.toml").read_text())
    assert content[spin["component"]["iris-api"]["source"]] == b"\0asm baked"
    assert content["spin.toml"] == (REPO / "spin.toml").read_bytes()
    with pytest.raises(SystemExit, match="no component nope"):
        oci_image.build(REPO / "spin.toml", "x:1", 0, {"nope": baked})


def test_missing_wasm_is_refused_with_a_clear_message(tmp_path):
    manifest = tmp_path / "spin.toml"
    manifest.write_text('spin_manifest_version = 2\n[application]\nname = "x"\n'
                        '[component.a]\nsource = "target/a.wasm"\n')
    with pytest.raises(SystemExit, match="a.wasm is missing; run `make build` first"):
        oci_image.build(manifest, "x:1", 0)


@pytest.mark.parametrize("ref,expected", [
    ("spinflow:dev", "docker.io/library/spinflow:dev"),
    ("me/spinflow", "docker.io/me/spinflow:latest"),
    ("localhost:5000/spinflow:1", "localhost:5000/spinflow:1"),
    ("ghcr.io/o/spinflow:0.1.0", "ghcr.io/o/spinflow:0.1.0"),
])
def test_references_are_named_as_containerd_names_them(ref, expected):
    assert oci_image.normalize_ref(ref) == expected
