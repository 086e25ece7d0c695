"""Apple Wallet: building and signing .pkpass archives, and the PassKit web service."""
