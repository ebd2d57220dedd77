"""Decontamination: drop training problems that share a word n-gram with a test problem.

    from computematch.decontamination import decontaminate
    clean, report = decontaminate(splits, n=8)   # report["dropped"] == {"train": 0, "val": 0, "corpus": 0}

The convention of open-r1's `scripts/decontaminate.py` (also used for s1 and OpenThoughts): lower-case the
text, collapse whitespace, split into words, and flag a problem whose question shares any n consecutive
words (n = 8 by default) with any test question. One extension: a question shorter than n words is its own
single n-gram, so a short problem that is copied verbatim into training (open-r1 would miss it, having no
n-gram to compare) is still caught.
"""

from __future__ import annotations

from typing import Iterable

from computematch.tasks.base import Problem

CHECKED_SPLITS = ("train", "val", "corpus")  # everything a model learns from or is selected on
EXAMPLES_KEPT = 5


def words(text: str) -> list[str]:
    return text.lower().split()


def ngrams(text: str, n: int) -> set[str]:
    """The word n-grams of `text`; a text of fewer than n words is one n-gram of all of it."""
    tokens = words(text)
    if len(tokens) < n:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i: i + n]) for i in range(len(tokens) - n + 1)}


def contaminated(problems: Iterable[Problem], reference: set[str], n: int) -> list[Problem]:
    """The problems whose question shares an n-gram with the `reference` n-grams."""
    return [p for p in problems if ngrams(p.question, n) & reference]


def decontaminate(splits: dict[str, list[Problem]], n: int) -> tuple[dict[str, list[Problem]], dict]:
    """Splits with contaminated train/val/corpus problems removed, and a report of what was dropped.

    n = 0 turns the check off (the report says so); the test split is never changed.
    """
    report = {"ngram": n, "enabled": n > 0, "dropped": {}, "examples": []}
    if n <= 0:
        return splits, report
    reference = set().union(*(ngrams(p.question, n) for p in splits["test"]))
    clean = dict(splits)
    for split in CHECKED_SPLITS:
        if split not in splits:
            continue
        flagged = contaminated(splits[split], reference, n)
        ids = {p.id for p in flagged}
        clean[split] = [p for p in splits[split] if p.id not in ids]
        report["dropped"][split] = len(flagged)
        report["examples"] += [{"split": split, "id": p.id, "question": p.question[:200]}
                               for p in flagged[: EXAMPLES_KEPT - len(report["examples"])]]
    return clean, report
