"""Actionability of replies: concrete next steps, resources and specifics.

Method: see mhai.evaluate.scorers.actionability. steps = sentences with a suggestion phrase or
an imperative opening with a concrete action verb; resource = names a support resource;
specific = says when, how often or how long; score = 0.6 * min(steps, 2) / 2 + 0.2 * resource
+ 0.2 * specific.
"""

import datasets
import evaluate

from mhai.evaluate.modules import columns
from mhai.evaluate.scorers import actionability

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
Returns:
    steps, resource, specific, score: one value per reply; mean_score.
"""


class MhaiActionability(evaluate.Measurement):
    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions):
        return columns(actionability(text) for text in predictions)
