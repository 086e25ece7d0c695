"""Surveys: the member's surveys, starting and answering them, and their results."""
