"""The rest of the page in headless chromium: the transform and compare forms, drag and
drop, the administrator's users view and the dark colour scheme."""

import io
import re
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.backends import create_admin
from tests.web.conftest import (
    PASSWORD,
    Visit,
    api_login,
    new_email,
    photo_with_mark,
    pixels,
    sign_up,
)
from tests.web.test_page import choose_files, paint, upload_and_open

# How many pixels of a canvas are painted (alpha > 0).
PAINTED = (
    "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
)


def result_of(visit: Visit, email: str) -> dict[str, object]:
    """The image the page's Download link points at, as the API describes it."""
    href = visit.page.get_by_role("link", name=re.compile("^Download")).get_attribute("href")
    image_id = (href or "").split("/")[-2]
    with api_login(visit.base, email) as api:
        image: dict[str, object] = api.get(f"/api/v1/images/{image_id}").json()
        content = api.get(f"/api/v1/images/{image_id}/content").content
    image["pixels"] = pixels(content)
    image["bytes"] = content
    return image


def test_transform_forms_and_compare(visit: Visit) -> None:
    page, email = visit.page, new_email()
    sign_up(visit, email)
    upload_and_open(visit, "photo.png", photo_with_mark())  # 512x512, colour

    def submit(form_name: str, button: str) -> None:
        page.get_by_role("form", name=form_name).get_by_role("button", name=button).click()
        expect(page.get_by_role("status")).to_have_text(f"{form_name}: done.")

    page.get_by_role("form", name="Resize").get_by_label("Width").fill("200")
    submit("Resize", "Resize")
    resized = result_of(visit, email)
    assert (resized["width"], resized["height"]) == (200, 200)

    page.get_by_role("form", name="Rotate").get_by_label(re.compile("^Angle")).fill("90")
    submit("Rotate", "Rotate")
    rotated = result_of(visit, email)
    source = pixels(photo_with_mark())
    # 90 degrees counter-clockwise: the source's right column is the result's top row.
    assert np.abs(rotated["pixels"][0] - source[:, -1]).mean() < 2  # type: ignore[index]

    submit("Grayscale", "Make grayscale")
    gray = result_of(visit, email)["pixels"]
    assert np.array_equal(gray[..., 0], gray[..., 1])  # type: ignore[index]
    assert np.array_equal(gray[..., 1], gray[..., 2])  # type: ignore[index]

    form = page.get_by_role("form", name="Convert")
    form.get_by_label("Format").select_option("webp")
    form.get_by_label("Quality").fill("70")
    submit("Convert", "Convert")
    converted = result_of(visit, email)
    assert converted["format"] == "webp"
    assert Image.open(io.BytesIO(converted["bytes"])).format == "WEBP"  # type: ignore[arg-type]

    # Compare the source with the grayscale result: the numbers and the heat map show.
    form = page.get_by_role("form", name="Compare")
    form.get_by_label("With").select_option(label="photo.gray.png")
    submit("Compare", "Compare")
    expect(page.locator("#result-info")).to_contain_text(re.compile(r"PSNR \d+\.\d+ dB, SSIM"))
    visit.shot("08-compare")


def test_drop_pictures_on_the_gallery(visit: Visit) -> None:
    page, email = visit.page, new_email()
    sign_up(visit, email)
    data = list(photo_with_mark())
    # What the browser hands the page when files are dropped from the desktop.
    transfer = page.evaluate_handle(
        """bytes => {
          const t = new DataTransfer();
          t.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
          t.items.add(new File(["not a picture"], "dropped.txt", { type: "text/plain" }));
          return t;
        }""",
        data,
    )
    drop = page.locator("#drop")
    drop.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(drop).to_have_class(re.compile(r"\bover\b"))
    drop.dispatch_event("drop", {"dataTransfer": transfer})
    expect(drop).not_to_have_class(re.compile(r"\bover\b"))
    expect(page.get_by_role("img", name="dropped.png")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^dropped\.txt: .+"))).to_be_visible()
    with api_login(visit.base, email) as api:
        listed = api.get("/api/v1/images").json()
    assert [item["filename"] for item in listed["items"]] == ["dropped.png"]


def test_admin_deactivates_and_reactivates_a_user(visit: Visit, served_env: dict[str, str]) -> None:
    page, admin, user = visit.page, new_email(), new_email()
    created = create_admin(admin, PASSWORD, served_env)
    assert created.returncode == 0, created.stderr
    signup = httpx.post(
        visit.base + "/api/v1/auth/signup", json={"email": user, "password": PASSWORD}
    )
    assert signup.status_code == 201, signup.text

    page.goto(visit.base + "/")
    form = page.get_by_role("form", name="Log in")
    form.get_by_label("Email").fill(admin)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Users").click()
    row = page.get_by_role("row").filter(has_text=user)
    expect(row).to_contain_text("yes")  # active
    expect(page.get_by_role("row").filter(has_text=admin)).to_contain_text("you")
    page.get_by_role("button", name=f"Deactivate {user}").click()
    expect(page.get_by_role("status")).to_have_text(f"{user} deactivated.")
    visit.shot("09-users")

    def login_status() -> int:
        return httpx.post(
            visit.base + "/api/v1/auth/login", json={"email": user, "password": PASSWORD}
        ).status_code

    assert login_status() == 401  # deactivated: refused like a wrong password
    page.get_by_role("button", name=f"Activate {user}").click()
    expect(page.get_by_role("status")).to_have_text(f"{user} activated.")
    assert login_status() == 200

    # A user who is not an administrator never sees the view.
    page.get_by_role("button", name="Log out").click()
    form.get_by_label("Email").fill(user)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Logged in as {user}")).to_be_visible()
    expect(page.get_by_role("button", name="Users")).to_be_hidden()


def luminance(css_colour: str) -> float:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_dark_colour_scheme_follows_the_system(visit: Visit) -> None:
    page = visit.page
    colours = (
        "() => { const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]; }"
    )
    page.emulate_media(color_scheme="light")
    sign_up(visit, new_email())
    light_bg, light_fg = page.evaluate(colours)
    assert luminance(light_bg) > 0.8
    assert luminance(light_fg) < 0.2
    page.emulate_media(color_scheme="dark")
    dark_bg, dark_fg = page.evaluate(colours)
    assert luminance(dark_bg) < 0.2
    assert luminance(dark_fg) > 0.8
    visit.shot("10-dark")


def zoom_percent(page: Page) -> int:
    zoom = page.locator("#zoom-level")
    expect(zoom).to_have_text(re.compile(r"^\d+%$"))  # shown once the picture is drawn
    return int(zoom.inner_text().rstrip("%"))


def test_pinch_zooms_and_paints_nothing(browser: Browser, served: str, tmp_path: Path) -> None:
    """Two fingers on a touch screen (Chromium's own touch input, as a phone sends it)."""
    context = browser.new_context(
        viewport={"width": 412, "height": 860}, has_touch=True, is_mobile=True
    )
    try:
        page = context.new_page()
        visit = Visit(page, served, tmp_path)
        sign_up(visit, new_email())
        upload_and_open(visit, "phone.png", photo_with_mark())
        before = zoom_percent(page)
        zoom = page.locator("#zoom-level")
        box = page.get_by_label(re.compile("^Mask painting area")).bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        touch = context.new_cdp_session(page)

        def fingers(spread: float) -> list[dict[str, float]]:
            return [
                {"x": cx - spread, "y": cy, "id": 0},
                {"x": cx + spread, "y": cy, "id": 1},
            ]

        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(20)})
        for spread in range(30, 130, 10):
            touch.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(spread)}
            )
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(zoom).not_to_have_text(f"{before}%")
        assert zoom_percent(page) > 3 * before  # fingers 5x further apart
        painted = page.get_by_label(re.compile("^Mask painting area")).evaluate(PAINTED)
        assert painted == 0, "the pinch painted on the mask"
    finally:
        context.close()


def test_a_24_megapixel_photo_is_painted_and_erased(visit: Visit) -> None:
    """A full-size photo: the page paints at a small scale, the strokes reach the full one."""
    page, email = visit.page, new_email()
    sign_up(visit, email)
    from skimage import data

    big = Image.fromarray(data.astronaut()).resize((6000, 4000))  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=90)
    choose_files(page, [("big.jpg", "image/jpeg", buffer.getvalue())])
    page.get_by_role("button", name="Open big.jpg").click()
    expect(page.get_by_role("status")).to_contain_text("is open (6000\u00d74000)")
    page.get_by_label("Brush size").fill("120")  # screen pixels across
    radius = 60 / (zoom_percent(page) / 100)
    assert radius < 600  # the picture is shown fitted, so far less than full size
    paint(page, [(1000, 2000), (5000, 2000)], (6000, 4000))
    page.get_by_label("Brush size").fill("40")
    paint(page, [(1000, 500), (1400, 800), (1000, 1100)], (6000, 4000))  # a curve: a PNG mask
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Erase: done.")
    result = result_of(visit, email)
    assert (result["width"], result["height"]) == (6000, 4000)
    with api_login(visit.base, email) as api:
        items = api.get("/api/v1/images").json()["items"]
        source_id = next(item["id"] for item in items if item["filename"] == "big.jpg")
        source = pixels(api.get(f"/api/v1/images/{source_id}/content").content)
    # The result is a JPEG like its source: re-encoding moves every pixel a few levels.
    assert result["format"] == "jpeg"
    changed = np.abs(result["pixels"] - source).max(axis=2) > 12  # type: ignore[operator]
    assert changed[2000, 1100:4900].mean() > 0.5  # along the wide stroke
    assert changed[795:805, 1390:1400].any()  # the curve's far point
    # Nothing farther than the brush's radius (and a margin) moved.
    reach = round(radius * 1.2) + 8
    assert not changed[2000 + reach :].any()
    assert not changed[:, 5000 + reach :].any()
