"""hyperagents engine: the science and its persistence, with no UI.

Modules (one concept each):
    policy      TaskPolicy, MetaPolicy, HyperAgent, bounds, seed_agent
    dataset     FEATURES, Split, Dataset, classic, synthetic, parse_csv, load_csv, load_dataset
    evaluate    Evaluation, evaluate, accuracy, scores, contributions
    mutate      Proposal, heuristic, adapt_after_evaluation (the heuristic operator)
    select      SELECTION registry: weighted, score_child, greedy
    archive     Archive (columnar, append-only, lineage queries)
    sumtree     SumTree (O(log n) proportional sampling)
    conditions  CONDITIONS registry: hyperagent, baseline, no_archive
    run         Run, StepRecord, METRIC_COLUMNS (the loop)
    experiment  run_experiment (conditions x seeds x iterations, parallel seeds)
    cli, bench  python -m engine ...

Import from the modules directly (``from engine.run import Run``); this package file imports
nothing so that ``python -m engine`` and worker processes start fast.
"""
