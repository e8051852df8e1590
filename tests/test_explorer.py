"""The explorer's API through the ASGI test client, a schema-driven fuzz of it, and a real browser."""

import io

import pytest
from conftest import CHROMIUM, assert_picture, browser_page, needs, train_tiny_run
from PIL import Image

fastapi = needs("fastapi", reason="the explorer's extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from infogan.errors import UsageError  # noqa: E402
from infogan.serve.explorer import create_app  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    train_tiny_run(root, "runs/alpha", extra=("--epochs", "1"))
    train_tiny_run(root, "runs/beta", extra=("--epochs", "1", "--continuous", "3", "--categories", "5"))
    return root / "runs"


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs))


def png(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def test_runs_and_info(client):
    assert client.get("/api/runs").json() == {"runs": ["alpha", "beta"], "default": "alpha", "unavailable": {}}
    info = client.get("/api/info", params={"run": "beta"}).json()
    assert info["categories"] == 5 and info["continuous"] == 3 and info["image_shape"] == [1, 8, 8]
    assert client.get("/api/info").json()["run"] == "alpha"


def test_generate_changes_with_codes_and_is_deterministic(client):
    a = client.get("/api/generate", params={"category": 1, "c1": -2, "seed": 5}).content
    b = client.get("/api/generate", params={"category": 1, "c1": 2, "seed": 5}).content
    again = client.get("/api/generate", params={"category": 1, "c1": -2, "seed": 5}).content
    assert a == again and a != b
    img = png(client.get("/api/generate", params={"run": "beta", "c3": 0.5, "scale": 4}))
    assert img.size == (32, 32)


def test_traverse_and_category_strips(client):
    strip = png(client.get("/api/traverse", params={"code": 2, "steps": 5, "category": 3}))
    assert strip.size == (5 * 9 + 1, 8 + 2)
    cats = png(client.get("/api/categories", params={"run": "beta"}))
    assert cats.size == (5 * 8, 8)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"c1": 2.5}, "less than or equal to 2"),
        ({"c1": "nan"}, "finite number"),
        ({"c1": "abc"}, "valid number"),
        ({"category": 4}, "categorical code 1 takes values 0..3, got 4"),
        ({"category": -1}, "greater than or equal to 0"),
        ({"c3": 0.1}, "2 continuous code(s); got c3"),
        ({"run": "gamma"}, "unknown run 'gamma'"),
        ({"scale": 0}, "greater than or equal to 1"),
        ({"seed": "x"}, "valid integer"),
    ],
)
def test_bad_parameters_get_422_with_a_message(client, params, message):
    r = client.get("/api/generate", params=params)
    assert r.status_code == 422
    assert message in r.text


def test_traverse_bad_code_is_422(client):
    r = client.get("/api/traverse", params={"code": 3})
    assert r.status_code == 422 and "got code=3" in r.text


def test_page_is_served_without_network_dependencies(client):
    html = client.get("/").text
    assert "<script>" in html and "http://" not in html and "https://" not in html  # no CDN


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/runs", "/api/info", "/api/generate", "/api/traverse", "/api/categories"} <= set(schema["paths"])
    names = {p["name"] for p in schema["paths"]["/api/generate"]["get"]["parameters"]}
    assert {"category", "seed", "c1", "c2", "c10", "run", "scale"} <= names


def test_generator_is_loaded_once_and_every_value_answers(runs, monkeypatch):
    """What keeps the explorer live: the weights are read once per run, not per request (its latency is
    measured by benchmarks/explorer_latency.py, not asserted here)."""
    from infogan.serve import explorer

    loads = []
    real = explorer.load_generator
    monkeypatch.setattr(explorer, "load_generator", lambda run_dir: loads.append(run_dir) or real(run_dir))
    client = TestClient(create_app(runs))
    images = {client.get("/api/generate", params={"c1": i / 10 - 1}).content for i in range(20)}
    assert len(loads) == 1 and len(images) > 1


def _png_bytes(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_an_edited_image_gives_its_codes_and_its_noise_to_every_picture(client, runs):
    """A 16x16 grey image posted to a run of 8x8 images: read at the run's size, Q's codes returned with an
    edit id whose noise the pictures then use; refusals are 422 with the reason."""
    import numpy as np

    square = np.zeros((16, 16), dtype=np.uint8)
    square[4:12, 6:10] = 255  # a bar, as a digit one would draw
    answer = client.post("/api/edit", content=_png_bytes(square), headers={"content-type": "image/png"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["categorical"]) == 1 and 0 <= body["categorical"][0] < 4 and len(body["continuous"]) == 2
    assert 0 <= body["error"] <= 1 and body["reconstruction"].startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(__import__("base64").b64decode(body["image"].split(",")[1]))).size == (8, 8)
    codes = {"cat1": body["categorical"][0], "c1": body["continuous"][0]}
    edited = client.get("/api/generate", params={**codes, "edit": body["edit"]}).content
    seeded = client.get("/api/generate", params=codes).content
    assert png(client.get("/api/generate", params={**codes, "edit": body["edit"]})).size == (8, 8) and edited != seeded
    assert png(client.get("/api/traverse", params={"edit": body["edit"], "steps": 3})).size == (3 * 9 + 1, 10)
    assert client.get("/api/generate", params={"edit": "nope"}).status_code == 422
    other = client.get("/api/generate", params={"edit": body["edit"], "run": "beta"})  # another run's noise
    assert other.status_code == 422 and "unknown edit" in other.json()["detail"]
    junk = client.post("/api/edit", content=b"not an image")
    assert junk.status_code == 422 and "not a readable image" in junk.json()["detail"]
    assert client.post("/api/edit", content=b"").status_code == 422


def test_info_carries_the_categories_names_where_the_run_has_them(runs, tmp_path):
    import shutil

    from infogan.cli import main

    named = tmp_path / "named"
    shutil.copytree(runs / "alpha", named)
    assert TestClient(create_app(named)).get("/api/info").json()["names"] == {}
    assert main(["name", str(named), "0=zero", "2=two"]) == 0
    assert TestClient(create_app(named)).get("/api/info").json()["names"] == {"1": {"0": "zero", "2": "two"}}


def test_not_a_run_folder(tmp_path):
    with pytest.raises(UsageError, match="holds no trained run"):
        create_app(tmp_path)


# ------------------------------------------------------------------------------------------ real browser
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's Chromium (/usr/bin/chromium) is not installed")
def test_browser_slider_changes_the_image(runs, tmp_path):
    with browser_page(create_app(runs)) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('image').dataset.query !== undefined")
        first_query = page.eval_on_selector("#image", "e => e.dataset.query")
        first_png = page.eval_on_selector("#image", "e => e.src")
        assert page.locator(".cats button").count() == 4
        assert page.locator("#run option").count() == 2  # two runs -> a selector
        page.locator("#c1").fill("1.5")  # moves the slider and fires 'input'
        page.wait_for_function(f"document.getElementById('image').dataset.query !== {first_query!r}")
        assert "c1=1.500" in page.eval_on_selector("#image", "e => e.dataset.query")
        assert page.eval_on_selector("#image", "e => e.src") != first_png
        page.locator(".cats button").nth(2).click()
        page.wait_for_function("document.getElementById('image').dataset.query.includes('cat1=2')")
        assert page.locator("#error").inner_text() == ""
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    width, height = assert_picture(tmp_path / "explorer.png")
    assert width >= 800 and height >= 600


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's Chromium (/usr/bin/chromium) is not installed")
def test_browser_edits_a_chosen_image(runs, tmp_path):
    """A file chosen in the page: its reconstruction is shown, the sliders move to Q's reading of it, and the
    pictures use its noise."""
    import numpy as np

    bar = np.zeros((8, 8), dtype=np.uint8)
    bar[1:7, 3:5] = 255
    (tmp_path / "bar.png").write_bytes(_png_bytes(bar))
    with browser_page(create_app(runs)) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('image').dataset.query !== undefined")
        page.locator("#upload").set_input_files(str(tmp_path / "bar.png"))
        page.wait_for_function("document.getElementById('image').dataset.query.includes('edit=')", timeout=60_000)
        assert page.locator("#editview").is_visible() and page.locator("#error").inner_text() == ""
        assert page.eval_on_selector("#reconstruction", "e => e.src").startswith("data:image/png;base64,")
        shown = float(page.locator("#c1").input_value())  # the slider, at its 0.01 steps
        query = dict(p.split("=") for p in page.eval_on_selector("#image", "e => e.dataset.query").split("&"))
        assert abs(float(query["c1"]) - shown) <= 0.005 + 1e-9  # the picture draws Q's exact reading
        page.locator("#unedit").click()
        page.wait_for_function("!document.getElementById('image').dataset.query.includes('edit=')")
        assert not page.locator("#editview").is_visible()
