"""The playground page: its JavaScript runs the published weights as the JAX model does, its
controls redraw the picture, a drawing is restyled as the package restyles it, and a weights file
that does not match its sha256 is refused where the reader sees it."""

import jax.numpy as jnp
import numpy as np
import pytest
from browser import Visit, require_chromium
from conftest import DOCS

from flaxguide.data import load_mnist
from flaxguide.figures.playground import as_variables, read_weights, restyle
from flaxguide.model.linen import VAE

require_chromium(__name__)

WEIGHTS = DOCS / "figures" / "playground"
# The page computes in float32 from the same float16 weights as these tests: only the order of
# the additions differs.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def model():
    header, arrays = read_weights(WEIGHTS)
    vae = VAE(latent_dim=header["latent_dim"], num_classes=header["num_classes"])
    return header, vae, as_variables(arrays)


@pytest.fixture
def playground(browser, site):
    visit = Visit(browser, site[1] + "/playground/")
    visit.page.evaluate("() => window.flaxguidePlayground.ready")
    yield visit
    visit.close()


def picture(page, selector: str) -> list[int]:
    """The RGBA bytes a canvas shows."""
    return page.evaluate(
        """s => { const c = document.querySelector(s);
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""",
        selector,
    )


def test_the_pages_forward_pass_is_the_models(playground, model, mnist_mirror, tmp_path):
    header, vae, variables = model
    page = playground.page
    latent = header["latent"]
    centre, directions = np.array(latent["centre"]), np.array(latent["directions"])
    zs = [
        centre,
        centre + 2 * directions[0] - directions[2],
        np.random.default_rng(0).normal(size=32),
    ]
    for label in (0, 3, 7):
        for z in zs:
            js = page.evaluate("([z, c]) => window.flaxguidePlayground.decodeLogits(z, c)",
                               [z.tolist(), label])  # fmt: skip
            jax_logits = vae.apply(variables, jnp.asarray(z[None], jnp.float32),
                                   jnp.asarray([label]), method=VAE.decode)  # fmt: skip
            np.testing.assert_allclose(js, np.asarray(jax_logits)[0], atol=TOLERANCE, rtol=0)
    images, labels = load_mnist("test", root=tmp_path, mirror=mnist_mirror)
    for i in range(3):
        x = images[i].reshape(784).astype(np.float32) / 255
        js = page.evaluate("([x, c]) => window.flaxguidePlayground.encode(x, c)",
                           [x.tolist(), int(labels[i])])  # fmt: skip
        mean, logvar = vae.apply(variables, jnp.asarray(x[None]), jnp.asarray(labels[i : i + 1]),
                                 method=VAE.encode)  # fmt: skip
        np.testing.assert_allclose(js["mean"], np.asarray(mean)[0], atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(js["logvar"], np.asarray(logvar)[0], atol=TOLERANCE, rtol=0)
    assert playground.failures == []


def test_a_slider_and_a_digit_redraw_the_picture(playground):
    page = playground.page
    output = "#playground-output"
    before = picture(page, output)
    slider = page.locator("input[type=range]").first
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    after_slider = picture(page, output)
    assert after_slider != before
    page.get_by_role("button", name="7", exact=True).first.click()
    assert picture(page, output) != after_slider
    assert playground.failures == []


def test_a_drawn_digit_is_restyled_as_the_package_restyles_it(
    playground, model, mnist_mirror, tmp_path
):
    # The strokes of a real MNIST test digit: each row's run of ink, drawn as one stroke.
    _, vae, variables = model
    images, labels = load_mnist("test", root=tmp_path, mirror=mnist_mirror)
    digit, label = images[0].reshape(28, 28) > 127, int(labels[0])
    page = playground.page
    canvas = page.locator("#playground-draw")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cell = box["width"] / 28
    for row in range(28):
        columns = np.flatnonzero(digit[row])
        if len(columns):
            y = box["y"] + (row + 0.5) * cell
            page.mouse.move(box["x"] + (columns[0] + 0.5) * cell, y)
            page.mouse.down()
            page.mouse.move(box["x"] + (columns[-1] + 0.5) * cell, y, steps=4)
            page.mouse.up()
    page.evaluate("c => window.flaxguidePlayground.setDrawnLabel(c)", label)
    drawn = np.array(page.evaluate("() => window.flaxguidePlayground.drawnInput()"))
    # The page read the digit as MNIST would: ink where the digit's ink is.
    assert drawn.shape == (784,) and np.corrcoef(drawn, digit.ravel())[0, 1] > 0.5
    js = np.array(page.evaluate("([x, c]) => window.flaxguidePlayground.restyle(x, c)",
                                [drawn.tolist(), label]))  # fmt: skip
    ours = restyle(vae, variables, jnp.asarray(drawn, jnp.float32), label)
    np.testing.assert_allclose(js, np.asarray(ours).reshape(10, 784), atol=TOLERANCE, rtol=0)
    assert playground.failures == []


def test_a_weights_file_that_does_not_match_its_sha256_is_refused(browser, site):
    data = bytearray((WEIGHTS / "weights.bin").read_bytes())
    data[len(data) // 2] ^= 0x40
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.route("**/playground/weights.bin", lambda route: route.fulfill(body=bytes(data)))
        page.goto(site[1] + "/playground/", wait_until="load")
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "does not match its checksum (sha256)" in alert.inner_text()
        refused = page.evaluate(
            "() => window.flaxguidePlayground.ready.then(() => false, () => true)"
        )
        assert refused
    finally:
        context.close()
