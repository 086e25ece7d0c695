"""The GraphQL API (Strawberry) and the Starlette app around it."""
