"""The API page of the launched app: every endpoint documented in plain words, its inputs
and outputs named, and optional inputs optional."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def endpoints(app_url):
    return httpx.get(app_url.rstrip("/") + "/gradio_api/info", timeout=30).json()["named_endpoints"]


def test_every_endpoint_has_a_plain_text_description(endpoints):
    for name, endpoint in endpoints.items():
        text = endpoint.get("description", "")
        assert text.strip(), name
        assert "`" not in text and ":param" not in text, (name, text)


def test_inputs_and_outputs_are_named(endpoints):
    for name, endpoint in endpoints.items():
        for param in endpoint["parameters"]:
            assert not param["parameter_name"].startswith("param_"), (name, param["parameter_name"])
            assert not param["label"].startswith("parameter_"), (name, param["label"])
        for output in endpoint["returns"]:
            assert not output["label"].startswith("value_"), (name, output)


def test_text_inputs_are_optional_with_a_real_default(endpoints):
    for name, endpoint in endpoints.items():
        for param in endpoint["parameters"]:
            if param["component"] == "Textbox":
                assert param["parameter_has_default"], (name, param["parameter_name"])
                assert param["parameter_default"] != "Hello!!", (name, param["parameter_name"])


def test_every_tab_keeps_its_public_names(endpoints):
    prefixes = ("vae_", "gan_", "gan_lab_", "boltzmann_", "ar_", "wn_")
    for prefix in prefixes:
        assert {f"/{prefix}load", f"/{prefix}download", f"/{prefix}restore"} <= set(endpoints) or prefix == "gan_lab_", prefix
