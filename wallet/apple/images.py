"""The pass's images: from the asset files the programme names, or drawn from its colours and
name with Pillow. Each at 1x, 2x and 3x; PNG bytes written without metadata, so the same
input gives the same bytes (and the manifest stays the same)."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from loyalty.programme.wallet_spec import WalletSpec

# Points (1x) per image, as Apple's pass design guide sizes them for a store card.
SIZES: dict[str, tuple[int, int]] = {"icon": (29, 29), "logo": (160, 50), "strip": (375, 123)}
SCALES = (1, 2, 3)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "T"


def _drawn(kind: str, size: tuple[int, int], look: WalletSpec, name: str) -> Image.Image:
    background, foreground = _rgb(look.background_color), _rgb(look.foreground_color)
    accent = _rgb(look.label_color)
    if kind == "logo":
        image = Image.new("RGBA", size, (0, 0, 0, 0))  # the logo sits on the pass's colour
    else:
        image = Image.new("RGBA", size, (*background, 255))
    draw = ImageDraw.Draw(image)
    width, height = size
    if kind == "strip":
        # A band in the label colour across the lower third, the programme's name above it.
        draw.rectangle((0, height * 2 // 3, width, height), fill=(*accent, 255))
        text, font_size = name, max(10, height // 5)
    elif kind == "icon":
        text, font_size = _initials(name), max(8, height // 2)
    else:
        text, font_size = _initials(name), max(8, height * 3 // 5)
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    at = (
        (width - (right - left)) // 2 - left if kind != "logo" else 0,
        (height // 3 if kind == "strip" else height // 2) - (bottom - top) // 2 - top,
    )
    draw.text(at, text, font=font, fill=(*foreground, 255))
    return image


def _scaled(path: Path, size: tuple[int, int]) -> Image.Image:
    with Image.open(path) as source:
        return source.convert("RGBA").resize(size, Image.Resampling.LANCZOS)


def pass_images(look: WalletSpec, name: str) -> tuple[tuple[str, bytes], ...]:
    """(file name, PNG bytes) of every image of a pass of this look, sorted by name; drawn
    once per look and name."""
    only_images = WalletSpec(
        background_color=look.background_color,
        foreground_color=look.foreground_color,
        label_color=look.label_color,
        images=look.images,
    )
    return _images(only_images, name)


@lru_cache(maxsize=64)
def _images(look: WalletSpec, name: str) -> tuple[tuple[str, bytes], ...]:
    files: list[tuple[str, bytes]] = []
    for kind, (width, height) in SIZES.items():
        asset = getattr(look.images, kind)
        for scale in SCALES:
            size = (width * scale, height * scale)
            image = _scaled(Path(asset), size) if asset else _drawn(kind, size, look, name)
            suffix = "" if scale == 1 else f"@{scale}x"
            files.append((f"{kind}{suffix}.png", _png(image)))
    return tuple(sorted(files))
