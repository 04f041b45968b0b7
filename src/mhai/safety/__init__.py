"""Stage 3, safety: labelled corpus, pass-1 classifier, pass-2 verifier, escalation,
evaluation, stress tests and personas. Entry point: :class:`mhai.safety.guardrail.Guardrail`."""
