"""LLM judge: a prompted instruct model rates replies on one dimension, 1 to 5.

Method: see mhai.evaluate.judge. One forward pass per (post, reply); a softmax over the logits
of the option tokens "1".."5" gives p(k); rating = sum_k k p(k); score = (rating - 1) / 4.
"""

import evaluate

from mhai.evaluate.judge import cached_judge
from mhai.evaluate.modules import measurement_info

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
    references (list of str): the posts they answer.
    dimension (str): readability, empathy, connectedness, actionability or safety.
    model (str): a saved causal-LM folder or an hf:<hub id> spec.
    batch_size (int, optional): prompts per forward pass. Default 8.
Returns:
    rating, score: one value per reply; mean_score.
"""


class MhaiLlmJudge(evaluate.Measurement):
    def _info(self):
        return measurement_info(_DESCRIPTION, _KWARGS, references=True)

    def _compute(self, predictions, references, dimension, model, batch_size=8):
        result = cached_judge(str(model)).score(references, predictions, dimension, batch_size)
        return {
            "rating": result["rating"].tolist(),
            "score": result["score"].tolist(),
            "mean_score": float(result["score"].mean()) if len(predictions) else float("nan"),
        }
