"""Prompt formats shared by training, evaluation and the pilot.

The generative model (GM) answers a post; the improved model (IM) rewrites a human draft reply
to a post. Both prompts are plain user-turn strings; the chat template is applied by the
tokenizer of whichever model reads them.
"""

from __future__ import annotations

IM_INSTRUCTION = (
    "Below is a post from someone looking for support, followed by a draft reply written by "
    "another person. Rewrite the draft into a better reply: keep what is helpful, make it warmer, "
    "more specific to the post and more practical, and keep it safe. Answer with the improved "
    "reply only."
)


def gm_prompt(title: str, body: str) -> str:
    """User content for the GM: the post title and body, as the person wrote them."""
    title, body = (title or "").strip(), (body or "").strip()
    if title and body:
        return f"{title}\n\n{body}"
    return title or body


def im_prompt(post: str, draft: str) -> str:
    """User content for the IM: the post plus a human draft reply to improve."""
    return f"{IM_INSTRUCTION}\n\nPost:\n{post.strip()}\n\nDraft reply:\n{draft.strip()}"
