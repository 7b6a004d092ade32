"""First contact in a real browser (Playwright driving Debian's Chromium): the app lands
on the home tab; each family's "try this first" card opens its play-first view with the
key image or audio inside the viewport and under no label, at 1280 x 720 (a classroom
projector) and at 1920 x 1080; presenter mode keeps it so; every guided tour runs end to
end."""

from __future__ import annotations

import pytest
from browser import CHROMIUM_ARGS, CHROMIUM_PATH

playwright = pytest.importorskip("playwright.sync_api")

# family tab id -> (the tab's title, the prefix of its header's ids, the key image or audio of its play-first view)
FAMILIES = {
    "warmup": ("Warm-up", "wu", "#wu-bm-plot"),
    "vae": ("VAE", "vae-ckpt", "#vae-slider-image img"),
    "gan": ("GAN", "gan-ckpt", "#gan-samples img"),
    "boltzmann": ("Boltzmann machines", "boltzmann-ckpt", "#boltzmann-means img"),
    "autoregressive": ("Autoregressive", "ar-ckpt", "#ar-watch-picture img"),
    "vqvae": ("VQ-VAE", "vq-ckpt", "#vq-samples-prior img"),
    "wavenet": ("Sequences", "wn-ckpt", "#wn-scale-audio"),
    "compare": ("Compare", "cmp", "#cmp-table"),
}

# Where the key element is, and which labels (label elements, block labels and infos) of
# other blocks overlap it.
PLACE_JS = """
(sel) => {
  const key = [...document.querySelectorAll(sel)].find(e => e.offsetParent !== null || e.getClientRects().length);
  if (!key) return null;
  const r = key.getBoundingClientRect();
  const labels = [...document.querySelectorAll('label, [data-testid=block-label], [data-testid=block-info], .block-title')]
    .filter(l => l.getClientRects().length && !key.contains(l) && !l.contains(key));
  const over = labels.filter(l => {
    const b = l.getBoundingClientRect();
    return b.width > 0 && b.height > 0 && b.left < r.right - 1 && b.right > r.left + 1 && b.top < r.bottom - 1 && b.bottom > r.top + 1;
  }).map(l => l.innerText.trim().slice(0, 60));
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: innerWidth, height: innerHeight, over};
}
"""

# What the visible panels show: images, audio, plots and status lines (not the tour's text).
SIGNATURE_JS = """
() => {
  const shown = e => e.getClientRects().length && e.offsetParent !== null;
  const media = [...document.querySelectorAll('img, audio, video')].filter(shown).map(e => e.currentSrc || e.src || '');
  const plots = [...document.querySelectorAll('.js-plotly-plot')].filter(shown).map(e => e.innerText.length + ':' + e.querySelectorAll('path').length);
  const texts = [...document.querySelectorAll('[id$=-status], [id$=-text], [id$=-quality], [id$=-note]')]
    .filter(e => shown(e) && !/-tour-text$/.test(e.id)).map(e => e.innerText);
  return JSON.stringify([media, plots, texts]);
}
"""

ERROR_JS = "() => [...document.querySelectorAll('.toast-body')].filter(t => /error/i.test(t.className + ' ' + t.innerText)).map(t => t.innerText)"


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(browser, app_url: str, width: int, height: int, query: str = ""):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(app_url + query)
    page.wait_for_selector("#home-try-vae", timeout=120_000)
    return page


@pytest.fixture(scope="module", params=[(1280, 720), (1920, 1080)], ids=["1280x720", "1920x1080"])
def page(request, browser, app_url):
    page = _open(browser, app_url, *request.param)
    yield page
    page.close()


def _home(page) -> None:
    page.get_by_role("tab", name="Start here", exact=True).click()
    page.wait_for_selector("#home-try-vae", state="visible")


def _check_key_visible(page, selector: str) -> None:
    page.wait_for_function(f"() => ({PLACE_JS})({selector!r}) !== null", timeout=60_000)
    page.wait_for_timeout(500)  # layout settles once the image has loaded
    place = page.evaluate(PLACE_JS, selector)
    assert place["right"] - place["left"] > 20 and place["bottom"] - place["top"] > 20, place
    assert place["left"] >= 0 and place["top"] >= 0, place
    assert place["right"] <= place["width"] and place["bottom"] <= place["height"], f"{selector} is below the fold: {place}"
    assert place["over"] == [], f"labels over {selector}: {place['over']}"


def test_the_app_lands_on_the_home_tab_with_a_card_per_family(page):
    assert page.get_by_role("tab", name="Start here", exact=True).get_attribute("aria-selected") == "true"
    text = page.inner_text("body")
    assert "Explicit density" in text and "Implicit density" in text
    for id_ in FAMILIES:
        assert page.locator(f"#home-try-{id_}").is_visible(), id_
        assert page.locator(f"#home-thumb-{id_} img, #home-thumb-{id_} audio").count() >= 1, id_


@pytest.mark.parametrize("family", list(FAMILIES))
def test_try_this_first_opens_the_view_with_its_key_picture_in_sight(page, family):
    title, _, key = FAMILIES[family]
    _home(page)
    page.click(f"#home-try-{family}")
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('[role=tab]')].some(b => b.innerText.trim() === t && b.getAttribute('aria-selected') === 'true')",
        arg=title, timeout=30_000,
    )
    _check_key_visible(page, key)
    assert "Traceback" not in page.inner_text("body")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_tour_step_runs(page, family):
    if page.viewport_size["width"] != 1280:
        pytest.skip("the tours run once, on the projector's 1280 x 720 (their views' placement is checked at both sizes)")
    title, prefix, _ = FAMILIES[family]
    page.get_by_role("tab", name=title, exact=True).click()
    page.wait_for_selector(f"#{prefix}-tour-1", state="visible", timeout=30_000)
    n_steps = page.locator(f"[id^={prefix}-tour-]:not([id$=-text])").count()
    assert 3 <= n_steps <= 5, n_steps
    for i in range(1, n_steps + 1):
        page.wait_for_timeout(1500)  # what the previous step started has settled
        before = page.evaluate(SIGNATURE_JS)
        button = page.locator(f"#{prefix}-tour-{i}")
        step_title = button.inner_text().split(". ", 1)[1]
        button.click()
        page.wait_for_function(
            "([id, t]) => (document.getElementById(id)?.innerText || '').includes(t)", arg=[f"{prefix}-tour-text", step_title], timeout=30_000,
        )
        page.wait_for_function(f"(before) => ({SIGNATURE_JS})() !== before", arg=before, timeout=120_000)
        errors = page.evaluate(ERROR_JS)
        assert errors == [], (family, i, errors)
        assert "⚠️" not in page.inner_text(f"#{prefix}-tour-text"), (family, i)


def test_presenter_mode_hides_the_model_bar_and_keeps_the_views_in_sight(browser, app_url):
    page = _open(browser, app_url, 1280, 720, "?presenter")
    try:
        page.wait_for_function("() => document.documentElement.classList.contains('pg-presenter')", timeout=10_000)
        assert page.locator("#pg-presenter input").is_checked()
        for family, (_, prefix, key) in FAMILIES.items():
            _home(page)
            page.click(f"#home-try-{family}")
            _check_key_visible(page, key)
            assert not page.locator(f"#{prefix}-bar").is_visible(), family
            assert page.locator(f"#{prefix}-explain").is_visible(), family
        page.locator("#pg-presenter input").uncheck()  # the toggle turns it off
        page.wait_for_function("() => !document.documentElement.classList.contains('pg-presenter')", timeout=10_000)
        _home(page)
        page.click("#home-try-wavenet")
        _check_key_visible(page, FAMILIES["wavenet"][2])
        assert page.locator("#wn-ckpt-bar").is_visible()
    finally:
        page.close()
