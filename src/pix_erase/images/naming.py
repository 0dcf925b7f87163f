"""File names of results: `holiday-photo.jpg` erased as PNG is `holiday-photo.erased.png`.

The name is what a user sees on the result's tile and what the page saves it as; it
derives from the source's name, the operation and the result's format.
"""

import re

_TAGS = {
    "erase": "erased",
    "remove_watermark": "no-watermark",
    "watermark_mask": "mask",
    "remove_background": "cutout",
    "compare": "heatmap",
    "rotate": "rotated",
    "grayscale": "gray",
    "resize": "resized",
    "convert": "converted",
    "sharpen": "sharpened",
}
_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}
_UNSAFE = re.compile(r"[^\w.\- ]+")
MAX_NAME = 255


def result_filename(source_name: str | None, operation: str, fmt: str) -> str:
    """`stem.tag.ext`; a pipeline (`resize+convert`) is tagged by its steps."""
    name = source_name or "image"
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = _UNSAFE.sub("_", stem).strip(" .") or "image"
    tag = "-".join(_TAGS.get(step, step.replace("_", "-")) for step in operation.split("+"))
    ext = _EXTENSIONS.get(fmt, fmt)
    suffix = f".{tag}.{ext}"
    return stem[: MAX_NAME - len(suffix)] + suffix
