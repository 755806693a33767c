"""The web page in a real browser: headless Chromium, driven by Selenium, over `octorec serve`.

The known answers are the API's own: the page must show the same projects, in the same order,
as the JSON routes it reads, and the score bars must split each score as the weights say.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.serving.conftest import API_TOKEN

pytestmark = pytest.mark.slow

USER = "dkadev"
USER_QUERY = "dka"
UNKNOWN_USER = "nobody-here-xyz"
COMPONENTS = ("semantic", "category", "tech_stack", "popularity", "collaborative")
PAGE_LIMIT = 10  # the page asks for this many recommendations and similar projects
MAX_CARDS = 5  # RECOMMENDATION_TOP_N's default: the pipeline stores five per user
WAIT_SECONDS = 20.0
USER_PAGE = 12  # the page lists this many developers at a time (USER_LIMIT in app.js)
TOKEN_STORAGE_KEY = "octorec-api-token"  # where the page keeps the token (TOKEN_KEY in app.js)
SHARE_TOLERANCE = 0.03  # a segment's width as a share of its bar, against the weights' answer
MIN_SCREENSHOT_BYTES = 20_000
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)
INSTALL_HINT = "install them with `apt-get install chromium chromium-driver`"


def _executable(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/lib/chromium")
        if found:
            return found
    return None


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    """Headless Chromium with the system's chromedriver (Selenium Manager never runs: offline)."""
    chromium = _executable("chromium", "chromium-browser")
    chromedriver = _executable("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail(
            f"chromium ({chromium}) or chromedriver ({chromedriver}) not found; {INSTALL_HINT}"
        )
    options = Options()
    options.binary_location = chromium
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        yield browser
    finally:
        browser.quit()


def _api(url: str) -> Any:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, f"{url}: HTTP {response.status_code} {response.text[:500]}"
    return response.json()


def _cards(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#results .card")


def _wait_for_cards(driver: WebDriver, names: list[str]) -> list[WebElement]:
    """Wait until the page has finished loading and shows exactly `names` as cards, in order."""

    def shown(d: WebDriver) -> bool:
        busy = d.find_element(By.ID, "view").get_attribute("aria-busy")
        return busy == "false" and [c.get_attribute("data-project") for c in _cards(d)] == names

    try:
        WebDriverWait(driver, WAIT_SECONDS).until(shown)
    except Exception as error:
        found = [c.get_attribute("data-project") for c in _cards(driver)]
        alert = driver.find_element(By.ID, "message").text
        raise AssertionError(
            f"expected cards {names}, page shows {found}; alert: {alert!r}"
        ) from error
    return _cards(driver)


def _text(value: str) -> str:
    return " ".join(value.split())


def _save_screenshot(driver: WebDriver, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    assert driver.save_screenshot(str(path)), f"Chromium did not write {path}"
    return path


def test_searching_a_user_shows_their_recommendations(
    live_server: str, driver: WebDriver, tmp_path: Path
) -> None:
    answer = _api(f"{live_server}/users/{USER}/recommendations")
    expected = answer["recommendations"]
    names = [item["project"]["full_name"] for item in expected]
    assert len(names) in range(1, MAX_CARDS + 1), f"the API returned {len(names)} recommendations"

    driver.get(f"{live_server}/")
    search = driver.find_element(By.ID, "user-search")
    label = driver.find_element(By.CSS_SELECTOR, "label[for='user-search']")
    assert label.text and search.get_attribute("type") == "search"
    search.send_keys(USER_QUERY)
    # The page lists users before anything is typed; wait for the list that answers the query
    # (the debounced search replaces the first one), not for any link with the right text.
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.find_element(By.ID, "user-matches").get_attribute("data-query") == USER_QUERY
    )
    match = next(
        (a for a in driver.find_elements(By.CSS_SELECTOR, "#user-matches a") if a.text == USER),
        None,
    )
    assert match is not None, f"the search for {USER_QUERY!r} does not list {USER}"
    options = driver.find_elements(By.CSS_SELECTOR, "#user-options option")
    assert USER in [option.get_attribute("value") for option in options]
    match.click()

    cards = _wait_for_cards(driver, names)
    assert driver.current_url.endswith(f"#/users/{USER}")
    assert USER in driver.find_element(By.ID, "view-title").text
    weights = answer["weights"]
    for card, item in zip(cards, expected, strict=True):
        full_name = item["project"]["full_name"]
        assert card.tag_name == "article"
        github = card.find_element(By.CSS_SELECTOR, "h4 a.github")
        assert github.text == full_name
        assert github.get_attribute("href") == f"https://github.com/{full_name}"
        assert "noopener" in (github.get_attribute("rel") or "")
        score = card.find_element(By.CSS_SELECTOR, ".score strong").text
        assert score == f"{item['score']:.2f}"
        assert _text(card.find_element(By.CSS_SELECTOR, ".reason").text) == _text(item["reason"])
        assert card.find_element(By.CSS_SELECTOR, "a.project-link").is_displayed()

        bar = card.find_element(By.CSS_SELECTOR, ".bar[role='img']")
        assert (bar.get_attribute("aria-label") or "").startswith(f"Score {score}")
        parts = {c: weights[c] * item["components"][c] for c in COMPONENTS}
        parts = {c: value for c, value in parts.items() if value > 0}
        segments = bar.find_elements(By.CSS_SELECTOR, ".segment")
        assert [s.get_attribute("data-component") for s in segments] == list(parts)
        total = sum(parts.values())
        for segment, value in zip(segments, parts.values(), strict=True):
            share = segment.rect["width"] / bar.rect["width"]
            assert share == pytest.approx(value / total, abs=SHARE_TOLERANCE), full_name

    shots = [_save_screenshot(driver, tmp_path, "recommendations.png")]
    if directory := os.environ.get("OCTOREC_SCREENSHOT_DIR"):
        shots.append(_save_screenshot(driver, Path(directory), "recommendations.png"))
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
        assert shot.stat().st_size > MIN_SCREENSHOT_BYTES, shot


def test_a_card_opens_the_project_page_with_similar_projects(
    live_server: str, driver: WebDriver, tmp_path: Path
) -> None:
    recommended = _api(f"{live_server}/users/{USER}/recommendations")
    user_names = [item["project"]["full_name"] for item in recommended["recommendations"]]
    driver.get(f"{live_server}/#/users/{USER}")
    card = _wait_for_cards(driver, user_names)[0]
    full_name = card.get_attribute("data-project")
    card.find_element(By.CSS_SELECTOR, "a.project-link").click()

    answer = _api(f"{live_server}/projects/{full_name}/similar?limit={PAGE_LIMIT}")
    similar = [item["project"]["full_name"] for item in answer["similar"]]
    assert similar, f"the API found nothing similar to {full_name}"
    cards = _wait_for_cards(driver, similar)
    assert driver.current_url.endswith(f"#/projects/{full_name}")
    assert driver.find_element(By.ID, "view-title").text == answer["project"]["full_name"]
    for card, item in zip(cards, answer["similar"], strict=True):
        assert card.find_element(By.CSS_SELECTOR, ".score strong").text == (
            f"{item['similarity']:.2f}"
        )
    if directory := os.environ.get("OCTOREC_SCREENSHOT_DIR"):
        _save_screenshot(driver, Path(directory), "similar.png")

    driver.back()
    _wait_for_cards(driver, user_names)
    driver.forward()
    _wait_for_cards(driver, similar)


@pytest.mark.parametrize(("login", "close_match"), [(UNKNOWN_USER, None), (f"{USER}x", USER)])
def test_an_unknown_user_shows_the_message_and_close_matches(
    live_server: str, driver: WebDriver, login: str, close_match: str | None
) -> None:
    response = httpx.get(f"{live_server}/users/{login}/recommendations", timeout=30)
    assert response.status_code == 404
    answer = response.json()
    if close_match is not None:
        assert close_match in answer["close_matches"]

    driver.get(f"{live_server}/#/users/{login}")
    alert = driver.find_element(By.CSS_SELECTOR, "[role='alert']")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: alert.text)
    assert answer["detail"] in alert.text
    links = alert.find_elements(By.TAG_NAME, "a")
    assert [a.text for a in links] == answer["close_matches"]
    assert [a.get_attribute("href") for a in links] == [
        f"{live_server}/#/users/{name}" for name in answer["close_matches"]
    ]
    assert _cards(driver) == []
    assert driver.find_element(By.ID, "view").get_attribute("aria-busy") == "false"


def _feedback(url: str, login: str) -> list[tuple[str, str]]:
    return [(f["project"], f["kind"]) for f in _api(f"{url}/users/{login}/feedback")["feedback"]]


def _wait_for_status(driver: WebDriver, text: str) -> None:
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: text in d.find_element(By.ID, "feedback-status").text
    )


def test_dismiss_hides_the_card_and_like_is_kept_with_the_token(
    token_server: tuple[str, Path], driver: WebDriver
) -> None:
    url, _ = token_server
    login = "page-user-01"
    names = [
        r["project"]["full_name"]
        for r in _api(f"{url}/users/{login}/recommendations")["recommendations"]
    ]
    assert len(names) >= 3, names
    driver.get(f"{url}/#/users/{login}")
    first = _wait_for_cards(driver, names)[0]

    # Without the token the server refuses: the card comes back and the page says why.
    first.find_element(By.CSS_SELECTOR, "button.dismiss").click()
    alert = driver.find_element(By.ID, "message")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: "API token" in alert.text)
    _wait_for_cards(driver, names)
    assert driver.find_element(By.ID, "token-box").get_attribute("open") is not None
    assert _feedback(url, login) == []

    token = driver.find_element(By.ID, "api-token")
    token.send_keys(API_TOKEN)
    token.submit()
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: "token is set" in d.find_element(By.ID, "token-status").text
    )
    assert driver.execute_script(f"return sessionStorage.getItem('{TOKEN_STORAGE_KEY}')") == (
        API_TOKEN
    )
    assert token.get_attribute("value") == ""  # not left in the field

    # With it: the card goes, the dismissal is stored, and the API leaves the project out.
    _cards(driver)[0].find_element(By.CSS_SELECTOR, "button.dismiss").click()
    _wait_for_status(driver, f"Dismissed {names[0]}")
    assert [c.get_attribute("data-project") for c in _cards(driver)] == names[1:]
    assert _feedback(url, login) == [(names[0], "dismiss")]
    served = _api(f"{url}/users/{login}/recommendations")["recommendations"]
    assert [r["project"]["full_name"] for r in served] == names[1:]

    # Undo brings it back, in its place; dismissing again and reloading keeps it gone.
    driver.find_element(By.CSS_SELECTOR, "#feedback-status button.undo").click()
    _wait_for_status(driver, "is back")
    assert [c.get_attribute("data-project") for c in _cards(driver)] == names
    assert _feedback(url, login) == []
    _cards(driver)[0].find_element(By.CSS_SELECTOR, "button.dismiss").click()
    _wait_for_status(driver, f"Dismissed {names[0]}")

    like = _cards(driver)[0].find_element(By.CSS_SELECTOR, "button.like")
    assert like.get_attribute("aria-pressed") == "false"
    like.click()
    _wait_for_status(driver, f"Liked {names[1]}")
    assert like.get_attribute("aria-pressed") == "true"
    assert sorted(_feedback(url, login)) == sorted([(names[0], "dismiss"), (names[1], "like")])

    driver.refresh()
    cards = _wait_for_cards(driver, names[1:])
    like = cards[0].find_element(By.CSS_SELECTOR, "button.like")
    assert like.get_attribute("aria-pressed") == "true"
    liked = driver.find_elements(By.CSS_SELECTOR, "#liked > li")
    assert [li.get_attribute("data-project") for li in liked] == [names[1]]
    if directory := os.environ.get("OCTOREC_SCREENSHOT_DIR"):
        _save_screenshot(driver, Path(directory), "feedback.png")


def test_every_developer_can_be_found_page_by_page(
    token_server: tuple[str, Path], driver: WebDriver
) -> None:
    url, _ = token_server
    everyone = _api(f"{url}/users?limit=100")
    expected = [u["login"] for u in everyone["users"]]
    assert everyone["total"] == len(expected) > 2 * USER_PAGE

    driver.get(f"{url}/")
    seen: list[str] = []
    for offset in range(0, len(expected), USER_PAGE):
        WebDriverWait(driver, WAIT_SECONDS).until(
            lambda d, o=offset: (
                d.find_element(By.ID, "user-matches").get_attribute("data-offset") == str(o)
            )
        )
        links = driver.find_elements(By.CSS_SELECTOR, "#user-matches a")
        seen += [a.text for a in links]
        shown = f"{offset + 1}\u2013{offset + len(links)} of {len(expected)}"
        assert driver.find_element(By.ID, "users-range").text == shown
        following = driver.find_element(By.ID, "users-next")
        if offset + USER_PAGE < len(expected):
            following.click()
        else:
            assert not following.is_enabled()
    assert seen == expected
    driver.find_element(By.ID, "users-prev").click()
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: (
            d.find_element(By.ID, "user-matches").get_attribute("data-offset")
            == str((len(expected) - 1) // USER_PAGE * USER_PAGE - USER_PAGE)
        )
    )


def test_a_users_page_shows_what_they_starred_beside_the_recommendations(
    live_server: str, driver: WebDriver
) -> None:
    profile = _api(f"{live_server}/users/{USER}")
    known = [p["full_name"] for p in profile["known_projects"]]
    assert known, f"{USER} knows no project in the stored data"
    # The page asks for the stored ones (no limit).
    recommended = _api(f"{live_server}/users/{USER}/recommendations")
    driver.get(f"{live_server}/#/users/{USER}")
    cards = _wait_for_cards(
        driver, [r["project"]["full_name"] for r in recommended["recommendations"]]
    )
    evidence = driver.find_element(By.ID, "evidence")
    assert evidence.is_displayed()
    assert USER in driver.find_element(By.ID, "evidence-title").text
    items = driver.find_elements(By.CSS_SELECTOR, "#known > li")
    assert [li.get_attribute("data-project") for li in items] == known
    link = items[0].find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href") == f"{live_server}/#/projects/{known[0]}"
    # Beside the cards on a wide window: to their right, starting at the same height band.
    first = cards[0].rect
    assert evidence.rect["x"] >= first["x"] + first["width"]
    assert evidence.rect["y"] < first["y"] + first["height"]
    # Another page hides it.
    driver.get(f"{live_server}/#/")
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: not d.find_element(By.ID, "evidence").is_displayed()
    )


def test_pasting_projects_shows_recommendations_computed_for_them(
    live_server: str, driver: WebDriver
) -> None:
    pasted = ["vuejs/vue", "nobody/not-here"]
    answer = httpx.post(
        f"{live_server}/recommendations",
        json={"starred": pasted, "limit": PAGE_LIMIT},
        timeout=30,
    ).json()
    names = [item["project"]["full_name"] for item in answer["recommendations"]]
    assert names and answer["unknown_projects"] == ["nobody/not-here"]

    driver.get(f"{live_server}/")
    box = driver.find_element(By.ID, "projects-input")
    assert driver.find_element(By.CSS_SELECTOR, "label[for='projects-input']").text
    box.send_keys("vuejs/vue, not a name")
    driver.find_element(By.CSS_SELECTOR, "#projects-form button[type='submit']").click()
    status = driver.find_element(By.ID, "projects-status")
    assert "not a repository name" in status.text and "#/for" not in driver.current_url

    box.clear()
    box.send_keys(", ".join(pasted))
    driver.find_element(By.CSS_SELECTOR, "#projects-form button[type='submit']").click()
    cards = _wait_for_cards(driver, names)
    assert "#/for?starred=" in driver.current_url
    summary = driver.find_element(By.ID, "view-summary")
    assert summary.get_attribute("data-unknown") == "nobody/not-here"
    assert "nobody/not-here" in summary.text
    for card, item in zip(cards, answer["recommendations"], strict=True):
        assert card.find_element(By.CSS_SELECTOR, ".score strong").text == f"{item['score']:.2f}"
        assert _text(card.find_element(By.CSS_SELECTOR, ".reason").text) == _text(item["reason"])
