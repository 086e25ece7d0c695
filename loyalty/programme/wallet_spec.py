"""The `wallet:` section of a programme file: how the members' wallet passes look.

Everything is optional: without the section a pass uses the programme's name and the default
colours, and its images are drawn from them.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints

from loyalty.programme.spec_base import DisplayName, SpecModel, _matching

_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
Colour = Annotated[str, _matching(_COLOUR, "must be a colour such as '#3B2314'")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
WebAddress = Annotated[
    str, _matching(re.compile(r"https://\S{3,500}"), "must be an https:// address")
]
AssetPath = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class WalletLink(SpecModel):
    label: DisplayName
    url: WebAddress


class WalletImages(SpecModel):
    """PNG files (paths from the server's working directory); each is scaled to 1x/2x/3x."""

    icon: AssetPath | None = None
    logo: AssetPath | None = None
    strip: AssetPath | None = None


class WalletNfc(SpecModel):
    """Value Added Services: the message a reader gets, encrypted to the reader's key."""

    message: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    encryption_public_key: Annotated[str, StringConstraints(min_length=40, max_length=200)]


class WalletSpec(SpecModel):
    background_color: Colour = "#3B2314"
    foreground_color: Colour = "#FFFFFF"
    label_color: Colour = "#F2C14E"
    logo_text: DisplayName | None = None
    description: DisplayName | None = None
    terms: Text | None = None
    links: Annotated[tuple[WalletLink, ...], Field(max_length=5)] = ()
    # Shown on the lock screen near a store; "{store}" is replaced by the store's name.
    store_text: DisplayName = "{store} is nearby"
    images: WalletImages = WalletImages()
    nfc: WalletNfc | None = None
