"""Rendering the study: the Markdown report (markdown.py) and its plots (plots.py), from typed records."""
