"""The programme file: what a loyalty programme is, as its operator writes it down."""

from loyalty.programme.loader import (
    Problem,
    ProgrammeFileError,
    load_programme,
    parse_programme,
)
from loyalty.programme.spec import ProgrammeFile, ProgrammeSpec

__all__ = [
    "Problem",
    "ProgrammeFile",
    "ProgrammeFileError",
    "ProgrammeSpec",
    "load_programme",
    "parse_programme",
]
