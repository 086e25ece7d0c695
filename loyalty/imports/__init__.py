"""Bringing members over from another platform: `trouw members import FILE`."""
