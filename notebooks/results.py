# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Results at a glance
#
# One row per central claim of the two studies this book reproduces: the morphotropic phase
# boundary in MA(1-x)FA(x)PbI3 {cite}`hainer2025mpb` and the temperature-dependent band gaps of
# Ag3SBr(x)I(1-x) {cite}`benitez2026antiperovskites`. For each claim: the seed's figure or table,
# the quantity, the seed's value (as the paper states it), ours with its interval where there is
# one, a verdict and its reason, and the chapter that shows the comparison.
#
# The table is generated, not typed: {mod}`softlattice.book.claims` declares the claims and reads
# every one of our values from the committed result sets under `data/`, with the loaders the
# chapters use; this page simulates nothing, so both profiles show the same numbers. The MA/FA rows
# read the production NEP's own error and, for the phases, dynamics and band edges, the runs of the
# first model (a NEP trained on CHGNet-r2SCAN labels, with fast ramps in small cells); chapters
# 02-05 show the production model's runs beside them. Our methods differ from the seeds' (NEPs
# trained on other teachers than SCAN+rVV10 DFT, small cells and fast ramps on CPUs, GPAW instead
# of VASP, CHGNet instead of MACE: see {doc}`../book/methods`),
# so a verdict says whether *this compendium's method* reproduces the claim, not whether the claim
# is true.

# %% tags=["parameters"]
profile = "full"  # "quick" or "full": this page reads committed result sets only, so both are the same
_declared = set(globals())  # papermill injects its parameters after this cell: see the next cell

# %% tags=["remove-input"]
from softlattice.infra.profiles import refuse_unknown_parameters

refuse_unknown_parameters(globals(), _declared)

# %%
from IPython.display import HTML, Markdown, display
from plotly.subplots import make_subplots

from softlattice.book import claims, plotting

plotting.use_book_renderer()
table = claims.results_table()
display(HTML(claims.table_html(table)))

# %% [markdown]
# ## How a verdict is decided
#
# The rule is fixed in {mod}`softlattice.book.claims` and applied to every row alike:

# %%
display(Markdown(claims.decision_rule()))

# %% [markdown]
# ## Verdicts per study

# %%
counts = claims.verdict_counts(table)
figure = make_subplots()
for verdict in counts.columns:
    figure.add_bar(y=[claims.SEEDS[seed] for seed in counts.index], x=counts[verdict], name=verdict,
                   orientation="h", marker_color=claims.VERDICT_COLOURS[verdict])
figure.update_layout(barmode="stack", height=260, xaxis_title="claims", legend_traceorder="normal",
                     margin=dict(l=20, r=20, t=20, b=40))
figure.show()
counts

# %% [markdown]
# ## How each of our values is read

# %%
display(Markdown(claims.readers_markdown()))

# %% [markdown]
# ## Sources
#
# The committed result sets behind the table, with the commit and date recorded in their provenance.

# %%
claims.sources()
