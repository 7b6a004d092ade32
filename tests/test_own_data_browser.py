"""Your own images in a real browser (Playwright driving Debian's Chromium) at 1280 x 720: upload a small zip of
letter-like images in the "Your data" tab, see them previewed, then train a VAE on them from its Train sub-tab, which
names the data; the finished model's description says it was trained on the letters."""

from __future__ import annotations

import pytest
from browser import opened_page
from images import letters_zip

playwright = pytest.importorskip("playwright.sync_api")


def test_upload_a_zip_then_train_a_vae_on_it(app_url, tmp_path):
    path = letters_zip(tmp_path / "letters.zip", 40)
    with opened_page(app_url) as page:
        page.get_by_role("tab", name="Your data", exact=True).click()
        page.locator("#data-files input[type=file]").set_input_files(str(path))
        page.wait_for_selector("#data-files :text('letters.zip')", timeout=30_000)
        page.click("#data-use")
        page.wait_for_function("() => /36 train/.test(document.querySelector('#data-summary').innerText)", timeout=60_000)
        assert "letters" in page.inner_text("#data-summary")
        preview = page.locator("#data-preview img").first.bounding_box()
        assert preview["width"] > 150 and preview["y"] + preview["height"] <= 720, preview  # in sight, under no label
        page.get_by_role("tab", name="VAE", exact=True).click()
        page.get_by_role("tab", name="Train", exact=True).click()
        assert "letters" in page.inner_text("#vae-train-data")
        page.locator("#vae-train-steps input[type=number]").fill("60")
        page.locator("#vae-train-steps input[type=number]").press("Enter")
        page.click("#vae-train-button")
        page.wait_for_function("() => /done/.test(document.querySelector('#vae-train-status').innerText)", timeout=180_000)
        assert "Test ELBO" in page.inner_text("#vae-train-status")
        assert not page.locator(".toast-body.error").count()
        page.locator("#vae-ckpt-bar").first.click()
        page.wait_for_selector("#vae-ckpt-info :text('trained on')", timeout=20_000)
        assert "letters" in page.inner_text("#vae-ckpt-info")
