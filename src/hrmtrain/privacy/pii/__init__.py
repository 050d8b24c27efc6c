"""Recognizers of the PII types added for four locales (en_US, en_GB, de_DE, es_ES), one module per kind.

Each module exposes ``find(text, ...) -> list[(start, end, TYPE, source)]``; privacy/redact.py runs them with
its own patterns and resolves overlaps by its PRIORITY table. The locale of a text (locale.py) picks the
phone regions and the address and name rules.
"""
