"""docs/error-codes.md, generated from the enums: every code a client may see, and where.

`trouw export-error-codes` writes it; tests/contract/test_error_codes.py fails when it drifts.
"""

from __future__ import annotations

from api.core.errors import (
    API_ERROR_CODE_DESCRIPTION,
    USER_ERROR_CODE_DESCRIPTION,
    ApiErrorCode,
    user_error_codes,
)

HEADER = """# Error codes

Every code a client may see, generated from the code (`trouw export-error-codes`); a test
fails when this file and the code differ. Both lists are GraphQL enums in `schema.graphql`, so
clients can generate them too. Branch on the code, never on the message."""


def _api_error_meaning(code: ApiErrorCode) -> str:
    definition = code.__class__.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        if value.name == code.name:
            return str(value.description or "")
    return ""


def error_codes_markdown() -> str:
    lines = [
        HEADER,
        "",
        "## `UserErrorCode`: `userErrors { code }` of a mutation",
        "",
        USER_ERROR_CODE_DESCRIPTION,
        "",
        "| code | area(s) |",
        "| --- | --- |",
    ]
    lines += [f"| `{code}` | {', '.join(areas)} |" for code, areas in user_error_codes().items()]
    lines += [
        "",
        "## `ApiErrorCode`: `errors[].extensions.code` of a top-level error",
        "",
        API_ERROR_CODE_DESCRIPTION,
        "",
        "| code | meaning |",
        "| --- | --- |",
    ]
    lines += [f"| `{code.name}` | {_api_error_meaning(code)} |" for code in ApiErrorCode]
    return "\n".join(lines) + "\n"
