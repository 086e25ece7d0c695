"""The pass's words in English and Dutch: pass.json carries the English text, and each
`xx.lproj/pass.strings` maps it to that language (Wallet picks the phone's)."""

from __future__ import annotations

from functools import lru_cache

# The English text is the key; the Dutch is its translation.
TEXTS: dict[str, str] = {
    "Points": "Punten",
    "Member": "Lid",
    "Member number": "Lidnummer",
    "Tier": "Niveau",
    "Points expiring": "Punten die vervallen",
    "Expire on": "Vervallen op",
    "Pending points": "Punten in behandeling",
    "Your balance is now %@ points.": "Je saldo is nu %@ punten.",
    "You are now %@.": "Je bent nu %@.",
    "%@ of your points expire soon.": "%@ van je punten vervallen binnenkort.",
    "Terms": "Voorwaarden",
    "Links": "Links",
    "Offers": "Aanbiedingen",
    "Your offers have changed: %@": "Je aanbiedingen zijn gewijzigd: %@",
    "Loyalty card": "Klantenkaart",
    "News": "Nieuws",
    "No news yet.": "Nog geen nieuws.",
}
LANGUAGES = ("en", "nl")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@lru_cache(maxsize=8)
def pass_strings(language: str) -> bytes:
    """The `pass.strings` file of a language (UTF-8; Wallet reads UTF-8 and UTF-16)."""
    lines = [
        f"{_quoted(key)} = {_quoted(key if language == 'en' else dutch)};"
        for key, dutch in sorted(TEXTS.items())
    ]
    return ("\n".join(lines) + "\n").encode()
