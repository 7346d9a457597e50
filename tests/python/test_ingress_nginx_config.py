"""The nginx configuration generated from the Ingress (tests/ingress/nginx_conf.py).

Checked with real nginx (`nginx -t`) for every kustomize target, and against
the annotations it must follow; the live traffic test is
test_ingress_through_nginx.py.
"""

import copy
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingress"))
import k8s_manifests as km  # noqa: E402
import nginx_conf  # noqa: E402
import nginx_runner  # noqa: E402


def find(docs, kind, name):
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def ingress():
    return find(km.render(km.K8S / "overlays" / "local"), "Ingress", "iris-api-ingress")



@pytest.mark.parametrize("target", ["base", "overlays/local", "overlays/production"])
def test_generated_config_is_valid_nginx_for_every_target(tmp_path, target):
    docs = km.render(km.copy_k8s_tree(tmp_path) / target)
    ing = find(docs, "Ingress", "iris-api-ingress")
    cert = nginx_runner.self_signed_certificate(tmp_path, "iris-api.example.com")
    conf = nginx_conf.render_nginx_conf(
        ing, endpoints={("iris-api-service", 8000): ["127.0.0.1:9"]},
        certificates={"iris-api.example.com": cert}, https_listen="127.0.0.1:1", http_listen="127.0.0.1:2",
        prefix=tmp_path / "nginx")
    nginx_runner.Nginx(tmp_path / "nginx", conf).check()


def render_with(ingress, tmp_path, **annotations):
    ing = copy.deepcopy(ingress)
    for k, v in annotations.items():
        key = nginx_conf.PREFIX + k.replace("_", "-")
        if v is None:
            ing["metadata"]["annotations"].pop(key, None)
        else:
            ing["metadata"]["annotations"][key] = v
    return nginx_conf.render_nginx_conf(
        ing, endpoints={("iris-api-service", 8000): ["127.0.0.1:9"]},
        certificates={"iris-api.example.com": (tmp_path / "c", tmp_path / "k")},
        https_listen="127.0.0.1:1", http_listen=None, prefix=tmp_path)


def test_config_follows_the_annotations(ingress, tmp_path):
    conf = render_with(ingress, tmp_path)
    assert "rate=10r/s" in conf and "burst=50 nodelay" in conf and "client_max_body_size 1m;" in conf
    conf = render_with(ingress, tmp_path, limit_rps="3", limit_burst_multiplier=None, proxy_body_size="8m")
    assert "rate=3r/s" in conf and "burst=15 nodelay" in conf and "client_max_body_size 8m;" in conf
    conf = render_with(ingress, tmp_path, limit_rps=None, enable_cors="false")
    assert "limit_req " not in conf and "Access-Control" not in conf


def test_an_annotation_the_generator_does_not_model_is_refused(ingress, tmp_path):
    with pytest.raises(nginx_conf.UnsupportedAnnotation, match="rewrite-target"):
        render_with(ingress, tmp_path, rewrite_target="/")


def test_origin_patterns_match_as_ingress_nginx_matches_them():
    pattern = re.compile(nginx_conf.origin_regex(["https://iris-api.example.com", "https://*.example.com"]),
                         re.IGNORECASE)
    assert pattern.search("https://iris-api.example.com")
    assert pattern.search("https://app.example.com")
    assert not pattern.search("https://a.b.example.com")  # '*' is one DNS label
    assert not pattern.search("https://example.com.evil.test")
    assert not pattern.search("http://app.example.com")
