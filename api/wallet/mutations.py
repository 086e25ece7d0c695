"""Mutations of wallet passes: none; devices register through the PassKit web service
(`wallet.apple.webservice`), not GraphQL."""
