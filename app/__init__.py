"""UI helpers shared by the page scripts in ``views/`` (data flows views -> app -> engine).

Modules (one concept each; importing this package imports none of them):
    state         session keys (``ha_`` prefix), the shared Store, deep links, OpenAI status
    data          cached store reads, invalidated after writes
    runner        runs and ablations in chunks with progress, written as they go
    background    reference lines and slow imports started ahead of need
    widgets       validated inputs (dataset, run, agent, iterations), progress, cached charts
    layout        the sidebar, moving to an agent, the empty state
    plots         pure Altair builders for single-run views
    lineage       the bounded lineage graph (scopes) and its streamlit-agraph elements
    ablation      ablation tables, charts and readings from engine.stats / engine.charts
    detail        Agent Detail tables (diff, error breakdown, lineage notes)
    review        a hand-made review: decision, contributions, what would flip it
    review_panel  the Live Review widgets (sliders, zip/folder scan, save)
    exports       CSV downloads built on click
"""
