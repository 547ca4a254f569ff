"""Widgets of the Live Review page: the repository's features (sliders, or a scanned folder /
zip that fills them), the decision with its reasons, and saving it.

Public names: FEATURE_KEYS, K_SCAN, scan_panel, feature_sliders, input_source, outcome,
save_panel.
"""

from __future__ import annotations

import streamlit as st

from app import data, plots, state, widgets
from app.llm_panel import K_SCAN_CONTEXT
from app.review import ReviewResult, review_record
from engine.policy import FEATURES, HyperAgent

FEATURE_KEYS = {f: f"ha_lr_{f}" for f in FEATURES}
K_SCAN = "ha_lr_scan"  # (kind, source name, features) of the last scan
K_SCAN_EVIDENCE = "ha_lr_scan_evidence"  # feature -> measured quantities and formula


def _apply_scan(kind: str, result) -> None:
    st.session_state[K_SCAN] = (kind, result.source, dict(result.features))
    for f, key in FEATURE_KEYS.items():
        st.session_state[key] = float(result.features[f])
    st.session_state["ha_lr_repo"] = result.source
    st.session_state[K_SCAN_EVIDENCE] = {f: dict(result.evidence.get(f, {}))
                                         for f in FEATURES}
    # Context for the OpenAI review, used while the sliders hold the scan's values.
    st.session_state[K_SCAN_CONTEXT] = {
        "features": {f: float(v) for f, v in result.features.items()},
        "readme_excerpt": result.readme_excerpt, "file_tree": list(result.file_tree),
        "findings": list(result.findings)}


def scan_panel() -> None:
    """Fill the sliders from an uploaded ``.zip`` or (when allowed) a local folder."""
    try:
        from engine import repo_scan
    except ImportError:  # the scanner ships with its own issue
        return
    with st.expander("Measure a repository (zip upload, git URL or folder)"):
        upload = st.file_uploader("Repository .zip", type=["zip"], key="ha_lr_zip")
        if upload is not None and st.button("Scan the zip", key="ha_lr_scan_zip"):
            try:
                _apply_scan("zip", repo_scan.scan_zip(upload.getvalue(), name=upload.name))
            except repo_scan.ScanError as exc:
                st.error(f"{upload.name}: {exc}")
        url = st.text_input("…or a git URL (cloned shallowly; needs network access)",
                            key="ha_lr_url", placeholder="https://github.com/owner/repo.git")
        if url and st.button("Scan the URL", key="ha_lr_scan_url"):
            try:
                with st.spinner("Cloning and measuring…"):
                    _apply_scan("url", repo_scan.scan_git_url(url))
            except repo_scan.ScanError as exc:
                st.error(str(exc))
        if repo_scan.local_paths_allowed():
            folder = st.text_input("…or a local folder path", key="ha_lr_folder")
            if folder and st.button("Scan the folder", key="ha_lr_scan_folder"):
                try:
                    _apply_scan("folder", repo_scan.scan(folder))
                except repo_scan.ScanError as exc:
                    st.error(str(exc))
        scan = st.session_state.get(K_SCAN)
        if scan:
            st.caption(f"Last scan: {scan[1]} ({scan[0]}); the sliders below hold its values.")
            evidence_table(scan[2], st.session_state.get(K_SCAN_EVIDENCE, {}))


def evidence_table(features: dict, evidence: dict) -> None:
    """What each measured feature rests on: its value, its formula and the quantities."""
    rows = []
    for f in FEATURES:
        ev = dict(evidence.get(f, {}))
        formula = ev.pop("formula", "")
        measured = ", ".join(f"{k}={v}" for k, v in ev.items()
                             if not isinstance(v, (list, dict)) or len(str(v)) < 60)
        rows.append({"feature": f, "value": features.get(f), "formula": formula,
                     "measured": measured})
    st.dataframe(rows, hide_index=True, key="ha_lr_evidence")


def feature_sliders() -> dict[str, float]:
    """One slider per feature in [0, 1] (0.5 until moved or scanned)."""
    values = {}
    cols = st.columns(len(FEATURES))
    for col, (f, key) in zip(cols, FEATURE_KEYS.items()):
        st.session_state.setdefault(key, 0.5)
        values[f] = float(col.slider(f.replace("_", " "), 0.0, 1.0, step=0.01, key=key))
    return values


def input_source(values: dict[str, float]) -> str:
    """``zip``/``folder`` while the sliders still hold the last scan's values, else
    ``sliders``."""
    scan = st.session_state.get(K_SCAN)
    if scan and all(abs(values[f] - scan[2][f]) < 1e-9 for f in FEATURES):
        return scan[0]
    return "sliders"


def outcome(result: ReviewResult) -> None:
    """The decision, score against threshold, contributions and what would flip it."""
    verdict = "ACCEPTED" if result.accepted else "REJECTED"
    (st.success if result.accepted else st.error)(
        f"**{verdict}**: score {result.score:.3f} "
        f"{'>=' if result.accepted else '<'} effective threshold {result.threshold:.3f} "
        f"(margin {result.margin:+.3f})")
    c1, c2 = st.columns([3, 2])
    with c1:
        widgets.chart((*result.contributions.values(), result.threshold),
                      plots.contributions_chart, result.contributions, result.threshold)
    c2.dataframe({"feature": list(result.contributions),
                  "value": [round(result.features[f], 3) for f in result.contributions],
                  "weight x value": [round(v, 4) for v in result.contributions.values()]},
                 hide_index=True, key="ha_lr_contrib")
    st.markdown("**What would flip the decision** (one change at a time)")
    st.markdown("\n".join(f"- {flip.text}" for flip in result.flips))


def save_panel(result: ReviewResult, agent: HyperAgent, run_id: str, values,
               llm_review: dict | None = None) -> None:
    repo = st.session_state.get("ha_lr_repo", "")
    label = st.radio("Your own label (optional)", ["none", "accepted", "rejected"],
                     horizontal=True, key="ha_lr_label")
    if st.button("Save review", type="primary", key="ha_lr_save"):
        record = review_record(result, agent, run_id, repo, input_source(values),
                               None if label == "none" else label, llm_review)
        review_id = state.store().add_review(record)
        data.invalidate()
        st.success(f"Review #{review_id} saved: {repo or '(unnamed)'} {result.decision} by "
                   f"agent #{agent.id} of run {run_id}.")


def labelled_dataset_csv(reviews) -> tuple[str | None, str]:
    """The labelled reviews as dataset CSV text (``CSV_COLUMNS``), or None and what is missing.

    Split: within each label, the oldest review goes to train, the next to test, and so on
    alternately, so both classes reach train first and the split never changes when more
    reviews are added.
    """
    import csv
    import io

    from engine.dataset import CSV_COLUMNS

    rows = reviews[reviews["label"].isin(["accepted", "rejected"])].sort_values("id")
    n_acc = int((rows["label"] == "accepted").sum())
    n_rej = int((rows["label"] == "rejected").sum())
    if n_acc < 1 or n_rej < 1 or n_acc + n_rej < 3:
        return None, (f"A dataset needs at least one accepted and one rejected labelled review, "
                      f"and three in all (train needs both classes, test at least one row); "
                      f"saved so far: {n_acc} accepted, {n_rej} rejected.")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    seen: dict[str, int] = {}
    for r in rows.itertuples(index=False):
        k = seen.get(r.label, 0)
        seen[r.label] = k + 1
        writer.writerow({"id": f"review-{r.id}", "name": r.repo, "split":
                         "train" if k % 2 == 0 else "test",
                         **{f: float(getattr(r, f)) for f in FEATURES}, "label": r.label})
    return buf.getvalue(), (f"{n_acc} accepted and {n_rej} rejected labelled reviews; "
                            "upload the file on Overview as a dataset (your CSV).")


def dataset_panel() -> None:
    """Download every labelled review as a dataset CSV that Overview accepts."""
    st.subheader("Your labelled reviews as a dataset")
    text, note = labelled_dataset_csv(state.store().reviews(1_000_000))
    st.download_button("Download labelled reviews as dataset CSV", text or "",
                       file_name="labelled_reviews.csv", mime="text/csv",
                       disabled=text is None, key="ha_lr_dataset_csv", help=note)
    st.caption(note)
