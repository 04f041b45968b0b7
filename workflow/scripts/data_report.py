"""Rule data_report: data card to W&B (table, metrics) and the length/margin histograms."""

from mhai.data.card import card_metrics, card_table, load_card, plot_lengths, plot_margins
from mhai.logs import setup_script_logging
from mhai.tracking import stage_run

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
card = load_card(smk.input.card)
with stage_run("data", dict(smk.config), name="prepare") as run:
    run.log_metrics(card_metrics(card))
    run.log_table("data_card", card_table(card))
    paths = run.save_figure(plot_lengths(card), "lengths")
    paths += run.save_figure(plot_margins(card), "vote_margins")
log.info("wrote %s", ", ".join(map(str, paths)))
