"""The OCI image that containerd-shim-spin runs, built by deploy/oci_image.py.

No container engine runs on our machines, so the image is built as an OCI
image layout archive and checked here the way a registry/containerd would:
digests and sizes of every blob, one manifest per platform, and a layer
holding /spin.toml, each .wasm at the path spin.toml names and the files of
each `files` mount (the MLflow web UI) at its `source` path.
"""

import gzip
import hashlib
import io
import json
import re
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


def expected_files(manifest: Path = REPO / "spin.toml") -> dict[str, bytes]:
    """Layer path -> content, from spin.toml read independently of the script."""
    spin = tomllib.loads(manifest.read_text())
    expected = {"spin.toml": manifest.read_bytes()}
    for comp in spin["component"].values():
        expected[comp["source"]] = (REPO / comp["source"]).read_bytes()
        for mount in comp.get("files", []):
            root = REPO / mount["source"]
            for path in root.rglob("*"):
                if path.is_file():
                    expected[f"{mount['source']}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return expected


def layer_members(archive: Path) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    files = read_archive(archive)
    image_index = json.loads(blob(files, json.loads(files["index.json"])["manifests"][0]))
    manifest = json.loads(blob(files, image_index["manifests"][0]))
    raw = gzip.decompress(blob(files, manifest["layers"][0]))
    with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
        return {m.name: (m, layer.extractfile(m).read() if m.isfile() else None) for m in layer.getmembers()}


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
    members = layer_members(archive)
    content = {name: data for name, (m, data) in members.items() if m.isfile()}
    assert content == expected_files()
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m, _ in members.values())
    # Readable by the pods' non-root user; directories can be entered.
    assert all(m.mode == (0o755 if m.isdir() else 0o644) for m, _ in members.values())


def test_the_web_ui_is_where_its_files_mount_expects_it(archive):
    """The shim mounts `source` (relative to /, where spin.toml is) directly."""
    spin = tomllib.loads((REPO / "spin.toml").read_text())
    (mount,) = spin["component"]["mlflow-ui"]["files"]
    site = mount["source"]
    assert site == "target/mlflow-ui/site" and mount["destination"] == "/"
    content = {name: data for name, (m, data) in layer_members(archive).items() if m.isfile()}
    manifest = content[f"{site}/.assets.tsv"].decode()
    assert b"static-files/static/js/main." in content[f"{site}/index.html"]
    listed = [line.split("\t") for line in manifest.splitlines() if line and not line.startswith("#")]
    assert len(listed) > 100
    for path, digest, variants in listed:
        data = content[f"{site}/{path}"]
        assert hashlib.sha256(data).hexdigest().startswith(digest), path
        for v in variants.split(",") if variants != "-" else []:
            assert f"{site}/{path}.{v}" in content, (path, v)


def test_build_is_reproducible(archive, tmp_path):
    again = tmp_path / "again.tar"
    oci_image.main(["-t", "registry.example/spinflow:1.2", "-o", str(again)])
    assert again.read_bytes() == archive.read_bytes()


def test_docker_context_has_the_same_files(tmp_path):
    oci_image.stage_rootfs(tmp_path / "rootfs", REPO / "spin.toml")
    staged = sorted(str(p.relative_to(tmp_path / "rootfs")) for p in (tmp_path / "rootfs").rglob("*") if p.is_file())
    assert staged == sorted(expected_files())
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


@pytest.mark.parametrize("files,message", [
    ('files = ["assets/*.html"]', "only `{ source = DIR, destination = ... }` files mounts"),
    ('files = [{ source = "site", destination = "/" }]\nexclude_files = ["x"]', "`exclude_files` is not packaged"),
    ('files = [{ source = "nowhere", destination = "/" }]', "nowhere is missing; run `make build` first"),
    ('files = [{ source = "../site", destination = "/" }]', "../site must be relative and inside the app dir"),
])
def test_files_mounts_the_shim_cannot_take_as_they_are_are_refused(tmp_path, files, message):
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "site").mkdir()
    manifest = tmp_path / "spin.toml"
    manifest.write_text('spin_manifest_version = 2\n[application]\nname = "x"\n'
                        f'[component.a]\nsource = "a.wasm"\n{files}\n')
    with pytest.raises(SystemExit, match=re.escape(message)):
        oci_image.build(manifest, "x:1", 0)


def test_a_directory_mount_is_packaged_at_its_source_path(tmp_path):
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "site/sub").mkdir(parents=True)
    (tmp_path / "site/index.html").write_text("<html>")
    (tmp_path / "site/sub/.hidden").write_text("dotfiles too")
    manifest = tmp_path / "spin.toml"
    manifest.write_text('spin_manifest_version = 2\n[application]\nname = "x"\n[component.a]\n'
                        'source = "a.wasm"\nfiles = [{ source = "site", destination = "/srv" }]\n')
    files = oci_image.app_files(manifest)
    assert sorted(map(str, files)) == ["/a.wasm", "/site/index.html", "/site/sub/.hidden", "/spin.toml"]


@pytest.mark.parametrize("ref,expected", [
    ("spinflow:dev", "docker.io/library/spinflow:dev"),
    ("me/spinflow", "docker.io/me/spinflow:latest"),
    ("localhost:5000/spinflow:1", "localhost:5000/spinflow:1"),
    ("ghcr.io/o/spinflow:0.1.0", "ghcr.io/o/spinflow:0.1.0"),
])
def test_references_are_named_as_containerd_names_them(ref, expected):
    assert oci_image.normalize_ref(ref) == expected
