"""The page as a person uses it, in headless chromium against `pix-erase serve`.

Elements are found by role and accessible name, as a screen reader would; what the page
did is checked through the API with a bearer client of the same account.
"""

import re

import numpy as np
from playwright.sync_api import FilePayload, Locator, Page, expect

from tests.processing.erase_samples import png as sample_png
from tests.processing.erase_samples import watermarked
from tests.web.conftest import (
    MARK,
    PASSWORD,
    Visit,
    api_login,
    new_email,
    photo_with_mark,
    pixels,
    png,
    sign_up,
)


def login_form(page: Page) -> Locator:
    return page.get_by_role("form", name="Log in")


def test_sign_up_log_out_log_in_with_the_keyboard(visit: Visit) -> None:
    page, email = visit.page, new_email()
    sign_up(visit, email)
    visit.shot("01-signed-up")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(login_form(page)).to_be_visible()

    # Keyboard alone: Tab reaches the log-in form's fields, Enter submits it.
    email_field = login_form(page).get_by_label("Email")
    for _ in range(10):
        if email_field.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(email_field).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(login_form(page).get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Logged in as {email}")).to_be_visible()
    expect(page.get_by_role("heading", name="Your pictures")).to_be_visible()
    visit.shot("01-logged-in-by-keyboard")

    # A wrong password is refused with a visible message.
    page.get_by_role("button", name="Log out").click()
    login_form(page).get_by_label("Email").fill(email)
    login_form(page).get_by_label("Password").fill("not the password")
    login_form(page).get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).not_to_be_empty()


def choose_files(page: Page, files: list[tuple[str, str, bytes]]) -> None:
    payloads: list[FilePayload] = [
        {"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files
    ]
    page.get_by_label("Choose pictures").set_input_files(payloads)


def test_upload_two_pictures_and_refuse_a_fake_one(visit: Visit) -> None:
    from PIL import Image

    page, email = visit.page, new_email()
    sign_up(visit, email)
    red = png(Image.new("RGB", (300, 200), (200, 30, 30)))
    choose_files(
        page,
        [("beach.png", "image/png", photo_with_mark()), ("red-square.png", "image/png", red)],
    )
    expect(page.get_by_role("img", name="beach.png")).to_be_visible()
    expect(page.get_by_role("img", name="red-square.png")).to_be_visible()
    # The tile is a real thumbnail: the browser decoded the preview.
    thumb = page.get_by_role("img", name="beach.png")
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") == 256
    visit.shot("02-two-tiles")

    choose_files(page, [("notes.png", "image/png", b"just some text, not a picture\n")])
    refusal = page.get_by_text(re.compile(r"^notes\.png: .+"))
    expect(refusal).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("1 of 1 files were refused.")
    visit.shot("02-refused")
    with api_login(visit.base, email) as api:
        listed = api.get("/api/v1/images").json()
        assert listed["total"] == 2
        assert sorted(item["filename"] for item in listed["items"]) == [
            "beach.png",
            "red-square.png",
        ]


def watch_progress(page: Page) -> None:
    """Record every value the task progress bar shows while it is visible."""
    page.evaluate(
        """() => {
          window.__progressSeen = [];
          const bar = document.querySelector('progress[aria-label="Task progress"]');
          new MutationObserver(() => {
            if (!bar.hidden) window.__progressSeen.push(bar.value);
          }).observe(bar, { attributes: true });
        }"""
    )


def progress_seen(page: Page) -> list[float]:
    seen: list[float] = page.evaluate("() => window.__progressSeen")
    return seen


def stage_point(page: Page, x: float, y: float, size: tuple[int, int]) -> tuple[float, float]:
    """Where picture pixel (x, y) is on screen with the picture fitted and centred."""
    box = page.get_by_label(re.compile("^Mask painting area")).bounding_box()
    assert box is not None
    scale = min(box["width"] / size[0], box["height"] / size[1])
    left = box["x"] + (box["width"] - size[0] * scale) / 2
    top = box["y"] + (box["height"] - size[1] * scale) / 2
    return left + x * scale, top + y * scale


def paint(page: Page, points: list[tuple[float, float]], size: tuple[int, int]) -> None:
    first = stage_point(page, *points[0], size)
    page.mouse.move(*first)
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*stage_point(page, *point, size), steps=12)
    page.mouse.up()


def upload_and_open(visit: Visit, name: str, data: bytes) -> None:
    page = visit.page
    choose_files(page, [(name, "image/png", data)])
    page.get_by_role("button", name=f"Open {name}").click()
    expect(page.get_by_role("heading", name=f"Editing {name}")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("is open")


def erase_mark(visit: Visit) -> tuple[str, str, str]:
    """Sign up, upload the marked photo, paint over the mark, Erase; returns the ids."""
    page, email = visit.page, new_email()
    sign_up(visit, email)
    upload_and_open(visit, "holiday-photo.png", photo_with_mark())
    page.get_by_label("Brush size").fill("90")
    x0, y0, x1, y1 = MARK
    paint(page, [(x0 - 5, (y0 + y1) / 2), (x1 + 5, (y0 + y1) / 2)], (512, 512))
    visit.shot("03-painted")
    watch_progress(page)
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Erase: done.")
    assert progress_seen(page), "the progress bar was never shown"
    download = page.get_by_role("link", name=re.compile("^Download"))
    expect(download).to_be_visible()
    result_id = (download.get_attribute("href") or "").split("/")[-2]
    with api_login(visit.base, email) as api:
        source_id = api.get(f"/api/v1/images/{result_id}").json()["parent_id"]
    return email, source_id, result_id


def test_paint_over_a_mark_and_erase_it(visit: Visit) -> None:
    email, source_id, result_id = erase_mark(visit)
    visit.shot("03-erased")
    with api_login(visit.base, email) as api:
        before = pixels(api.get(f"/api/v1/images/{source_id}/content").content)
        after = pixels(api.get(f"/api/v1/images/{result_id}/content").content)
    x0, y0, x1, y1 = MARK
    inside = np.abs(
        after[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5] - before[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5]
    )
    assert inside.mean() > 40, "the white mark is still there"
    # Far from the stroke (its radius is ~37 picture pixels) nothing moved.
    assert np.array_equal(after[:350], before[:350])
    assert after[y0 + 10 : y1 - 10, x0 + 10 : x1 - 10].mean() < 200  # no longer white


def test_find_watermark_then_correct_the_mask_and_erase_again(visit: Visit) -> None:
    from PIL import Image, ImageDraw, ImageFont
    from skimage import data

    page, email = visit.page, new_email()
    sign_up(visit, email)
    photo = Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]
    font = ImageFont.load_default(size=44)
    ImageDraw.Draw(photo).text((60, 420), "SAMPLE PHOTO", font=font, fill=(255, 255, 255))
    upload_and_open(visit, "stamped.png", png(photo))

    page.get_by_role("button", name="Find watermark").click()
    expect(page.get_by_role("status")).to_contain_text("Watermark found")
    overlay = page.get_by_label(re.compile("^Mask painting area"))
    painted = (
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
    )
    found = overlay.evaluate(painted)
    assert found > 0, "the watermark's mask is not shown"
    visit.shot("04-watermark-mask")
    visit.shot("editor", full_page=False)  # docs/editor.png is a copy of this one

    paint(page, [(20, 20), (80, 60)], (512, 512))  # one more stroke, far from the text
    assert overlay.evaluate(painted) > found
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Erase: done.")
    visit.shot("04-erased-again")
    with api_login(visit.base, email) as api:
        names = {item["filename"] for item in api.get("/api/v1/images").json()["items"]}
    # The corrected mask went up as a PNG at full size, and erase made a new result.
    assert {"stamped.png", "stamped.mask.png", "stamped.erased.png"} <= names
    assert "stamped.no-watermark.png" in names


def frames(page: Page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_before_after_slider_and_download(visit: Visit) -> None:
    email, _, result_id = erase_mark(visit)
    page = visit.page
    slider = page.get_by_label("Before / after")
    picture = page.get_by_role("img", name="Picture")
    slider.focus()
    page.keyboard.press("End")
    expect(slider).to_have_value("100")
    frames(page)
    all_before = picture.screenshot()
    page.keyboard.press("Home")
    expect(slider).to_have_value("0")
    frames(page)
    all_after = picture.screenshot()
    assert all_before != all_after
    visit.shot("05-after")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("^Download")).click()
    download = info.value
    assert download.suggested_filename == "holiday-photo.erased.png"
    saved = visit.downloads / download.suggested_filename
    download.save_as(saved)
    with api_login(visit.base, email) as api:
        assert saved.read_bytes() == api.get(f"/api/v1/images/{result_id}/content").content

    page.get_by_role("button", name="Keep editing").click()
    expect(page.get_by_role("heading", name="Editing holiday-photo.erased.png")).to_be_visible()


def test_phone_width_offline_and_headers(visit: Visit) -> None:
    page = visit.page
    page.set_viewport_size({"width": 375, "height": 800})
    sign_up(visit, new_email())
    width = "() => document.scrollingElement.scrollWidth"
    assert page.evaluate(width) <= 375
    upload_and_open(visit, "a-photo-with-a-rather-long-file-name.png", photo_with_mark())
    assert page.evaluate(width) <= 375
    visit.shot("06-phone-editor")
    page.get_by_role("button", name="Gallery").click()
    expect(page.get_by_role("img", name="a-photo-with-a-rather-long-file-name.png")).to_be_visible()
    assert page.evaluate(width) <= 375
    visit.shot("06-phone-gallery")

    away = [u for u in visit.requests if not u.startswith((visit.base + "/", "data:", "blob:"))]
    assert visit.requests
    assert not away, away


def test_rectangle_undo_redo_remove_background_and_batch(visit: Visit) -> None:
    page, email = visit.page, new_email()
    sign_up(visit, email)
    upload_and_open(visit, "product.png", photo_with_mark())
    overlay = page.get_by_label(re.compile("^Mask painting area"))
    painted = (
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
    )
    page.get_by_role("button", name="Rectangle").click()
    expect(page.get_by_role("button", name="Rectangle")).to_have_attribute("aria-pressed", "true")
    paint(page, [(100, 40), (420, 500)], (512, 512))
    frames(page)
    with_rect = overlay.evaluate(painted)
    assert with_rect > 0
    page.keyboard.press("Control+z")
    frames(page)
    assert overlay.evaluate(painted) == 0
    page.keyboard.press("Control+Shift+z")
    frames(page)
    assert overlay.evaluate(painted) == with_rect

    page.get_by_role("button", name="Remove background").click()
    expect(page.get_by_role("status")).to_have_text("Remove background: done.")
    expect(page.get_by_role("link", name="Download product.cutout.png")).to_be_visible()
    visit.shot("07-cutout")

    # Batch: two pictures with the same stamp, one progress bar, then results.
    page.get_by_role("button", name="Gallery").click()
    one, two = (watermarked(name, opacity=0.6).marked for name in ("astronaut", "coffee"))
    choose_files(
        page,
        [("one.png", "image/png", sample_png(one)), ("two.png", "image/png", sample_png(two))],
    )
    expect(page.get_by_role("img", name="two.png")).to_be_visible()
    page.get_by_role("checkbox", name="Select one.png").check()
    page.get_by_role("checkbox", name="Select two.png").check()
    page.get_by_role("button", name=re.compile("^Remove shared watermark")).click()
    expect(page.get_by_role("status")).to_contain_text("Watermark removed from 2 pictures")
    expect(page.get_by_role("img", name="one.no-watermark.png")).to_be_visible()
    visit.shot("07-batch")

    # Delete asks first (the test accepts), then the tile is gone.
    page.get_by_role("button", name="Delete one.no-watermark.png").click()
    expect(page.get_by_role("img", name="one.no-watermark.png")).to_have_count(0)
