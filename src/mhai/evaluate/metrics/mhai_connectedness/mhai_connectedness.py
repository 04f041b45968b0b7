"""Connectedness of replies: engagement with the specifics of the post.

Method: see mhai.evaluate.scorers.connectedness. overlap = share of the post's (up to) top_k
most frequent content words used by the reply; similarity = cosine of sentence embeddings of
post and reply (given as `similarities`, or computed with the sentence-transformers model in
`embedder_dir`); score = mean(overlap, max(similarity, 0)), or overlap alone.
"""

import evaluate

from mhai.evaluate.linguistics import cosine_similarities
from mhai.evaluate.modules import columns, measurement_info
from mhai.evaluate.scorers import connectedness
from mhai.models import load_embedder

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
    references (list of str): the posts they answer.
    similarities (list of float, optional): precomputed post-reply cosine similarities.
    embedder_dir (str, optional): a sentence-transformers folder to compute them with.
    top_k (int, optional): how many salient post words to look for. Default 10.
Returns:
    overlap, similarity, score: one value per reply; mean_score.
"""


class MhaiConnectedness(evaluate.Measurement):
    def _info(self):
        return measurement_info(_DESCRIPTION, _KWARGS, references=True)

    def _compute(self, predictions, references, similarities=None, embedder_dir=None, top_k=10):
        if similarities is None and embedder_dir is not None:
            similarities = cosine_similarities(load_embedder(embedder_dir), references, predictions)
        if similarities is None:
            similarities = [None] * len(predictions)
        return columns(
            connectedness(r, p, s, top_k=top_k)
            for r, p, s in zip(predictions, references, similarities, strict=True)
        )
