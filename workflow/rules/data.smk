# Stage 1: Reddit-format dumps -> de-identified SFT/DPO sets, safety messages, data card.
# (filled in by the data stage)

TARGETS += ["results/models/base_lm", "results/models/embedding"]
