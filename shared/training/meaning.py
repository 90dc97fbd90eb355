"""Whether a reply does what a point says, by meaning rather than by its words.

A reply is cut into clauses (language.clauses). Each point of the customer line has
anchors: its label ("says the hotel pays for the taxi") and the sentences of the line's
example replies closest to it (at least EXAMPLE_ANCHOR_AT similar); a point made for an
upstream-layout keyword has the keyword's alternatives and the sentences of the scenario's
documents that use it (judge.py). A clause's similarity to a point is its best cosine with
the point's anchors (embedding.py), and the point's degree rises linearly from 0 at
SIMILAR_FROM to 1 at SIMILAR_AT.

A pitfall, or a rule of the scenario's documents (documents.py), fires when a clause not
turned around by a negation is at least PITFALL_AT (RULE_AT) similar to it and closer to
it than to any of the line's points by PITFALL_MARGIN: "you'll pay for the other hotel and
claim it back" is closer to "says the guest must pay for the other hotel" than to "says
the hotel pays for a room at another hotel", and "we never ask for your password" does not
break "never ask for the password".

RELEVANT_AT: a reply none of whose clauses is that similar to the customer's line or to a
point does not answer the customer.

Every bound was set by eval/feedback/tune.py on the tuning rows (the shipped scenarios'
`tune` part and the development scenarios); docs/training.md gives the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from shared.training.embedding import default_embedder
from shared.training.language import Clause, clauses

SIMILAR_FROM = 0.40
SIMILAR_AT = 0.80
PITFALL_AT = 0.72
PITFALL_MARGIN = 0.05
RULE_AT = 0.65
RELEVANT_AT = 0.20
EXAMPLE_ANCHOR_AT = 0.30


@lru_cache(maxsize=2048)
def anchor_matrix(texts: tuple[str, ...]) -> np.ndarray:
    """The unit vectors of a point's or pitfall's anchor texts, one row each."""
    embedder = default_embedder()
    return np.stack([embedder.embed_cached(text) for text in texts])


def example_anchors(labels: Sequence[str], examples: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """For each label, the example sentences closest to it (and at least
    EXAMPLE_ANCHOR_AT similar): an author's example reply shows how each point is said."""
    return _example_anchors(tuple(labels), tuple(examples))


@lru_cache(maxsize=512)
def _example_anchors(labels: tuple[str, ...], examples: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    sentences = [clause.text for example in examples for clause in clauses(example)]
    if not labels or not sentences:
        return tuple(() for _ in labels)
    embedder = default_embedder()
    label_vectors = np.stack([embedder.embed_cached(label) for label in labels])
    sentence_vectors = np.stack([embedder.embed_cached(sentence) for sentence in sentences])
    similarity = sentence_vectors @ label_vectors.T
    owners = similarity.argmax(axis=1)
    return tuple(
        tuple(s for i, s in enumerate(sentences) if owners[i] == p and similarity[i, p] >= EXAMPLE_ANCHOR_AT)
        for p in range(len(labels))
    )


class ReplyMeaning:
    """A reply's clauses and their vectors, computed once per judgement."""

    def __init__(self, text: str) -> None:
        self.clauses: list[Clause] = clauses(text)
        self.vectors = default_embedder().embed([clause.text for clause in self.clauses])

    def similarities(self, anchors: np.ndarray) -> np.ndarray:
        """Each clause's best similarity to any of the anchors."""
        if not self.clauses:
            return np.zeros(0, dtype=np.float32)
        return (self.vectors @ anchors.T).max(axis=1)

    def best(self, anchors: np.ndarray) -> tuple[float, Clause | None]:
        """The best similarity of any clause to the anchors, and that clause."""
        similarity = self.similarities(anchors)
        if similarity.size == 0:
            return 0.0, None
        index = int(similarity.argmax())
        return float(similarity[index]), self.clauses[index]


def degree(similarity: float) -> float:
    """0 below SIMILAR_FROM, 1 from SIMILAR_AT, linear between."""
    return min(1.0, max(0.0, (similarity - SIMILAR_FROM) / (SIMILAR_AT - SIMILAR_FROM)))
