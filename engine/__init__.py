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
    stats, reference, charts   statistics, reference lines, pure Altair chart builders
    store, store_schema, store_query, store_bench   SQLite persistence (sqlite-utils)
    llm, llm_config, llm_operator, llm_reviewer, llm_ablation, prompts/   optional OpenAI
    repo_scan, scan_measure, scan_security, scan_zip   features measured on a real repository
    cli, cli_store, cli_stats, cli_llm, bench   python -m engine ...

Import from the modules directly (``from engine.run import Run``); this package file imports
nothing so that ``python -m engine`` and worker processes start fast.
"""
