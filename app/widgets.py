"""Input widgets shared by several pages, validated at the boundary.

Public names: ITERATIONS_MAX, SEEDS_MAX, SEED_VALUE_MAX, DATASET_KINDS, run_label,
dataset_input, run_picker, agent_picker, iterations_input, progress_bar, download, chart,
references_for.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from app import background, data, state
from engine.dataset import Dataset, classic, parse_csv, synthetic

ITERATIONS_MAX = 100_000
SEEDS_MAX = 100
SEED_VALUE_MAX = 1_000_000
DATASET_KINDS = {"classic": "classic (30 hand-built repositories)",
                 "generated": "generated benchmark", "upload": "upload a CSV"}


def run_label(row) -> str:
    """``id · condition · seed · iterations · best train`` of a ``list_runs`` row."""
    best = "" if pd.isna(row["best_train"]) else f" · best {row['best_train']:.3f}"
    return (f"{row['run_id']} · {row['condition']} · seed {row['seed']} · "
            f"{row['iterations']} it{best}")


@st.cache_data(max_entries=16, show_spinner=False)
def _synthetic(n_train: int, n_test: int, noise: float, seed: int) -> Dataset:
    return synthetic(n_train, n_test, noise, seed)


@st.cache_data(max_entries=16, show_spinner=False)
def _parse(text: str, name: str) -> Dataset:
    return parse_csv(text, name=name)


def dataset_input(prefix: str) -> tuple[Dataset | None, str]:
    """Choose a dataset; returns ``(dataset, spec)``, dataset None when an upload is invalid or
    missing (the page then refuses to run; nothing else changes). The chosen dataset's
    reference lines start computing in the background at once."""
    ds, spec = _dataset_choice(prefix)
    if ds is not None:
        background.references(ds)
    return ds, spec


def _dataset_choice(prefix: str) -> tuple[Dataset | None, str]:
    kind = st.radio("Dataset", list(DATASET_KINDS), format_func=DATASET_KINDS.get,
                    key=f"{prefix}_dataset_kind", horizontal=True)
    if kind == "classic":
        return classic(), "classic"
    if kind == "generated":
        c1, c2, c3, c4 = st.columns(4)
        n_train = c1.number_input("train rows", 4, 5000, 200, key=f"{prefix}_syn_train")
        n_test = c2.number_input("test rows", 4, 5000, 100, key=f"{prefix}_syn_test")
        noise = c3.number_input("label noise", 0.0, 0.5, 0.1, 0.05, key=f"{prefix}_syn_noise")
        seed = c4.number_input("data seed", 0, SEED_VALUE_MAX, 0, key=f"{prefix}_syn_seed")
        ds = _synthetic(int(n_train), int(n_test), float(noise), int(seed))
        return ds, ds.name
    upload = st.file_uploader(
        "CSV of labelled repositories", type=["csv"], key=f"{prefix}_upload",
        help="Columns: id,name,split,maintainability,security,test_coverage,documentation,"
             "simplicity,label (split train/test, label accepted/rejected or 1/0).")
    if upload is None:
        st.info("Upload a CSV to use your own repositories.")
        return None, ""
    try:
        text = upload.getvalue().decode("utf-8")
        ds = _parse(text, upload.name)
    except UnicodeDecodeError:
        st.error(f"{upload.name}: not UTF-8 text; expected a CSV file. Nothing was changed.")
        return None, ""
    except ValueError as exc:
        st.error(f"{upload.name}: {exc}. Nothing was changed.")
        return None, ""
    st.caption(f"{upload.name}: {len(ds.train)} train and {len(ds.test)} test repositories")
    return ds, f"upload:{upload.name}"


def run_picker(label: str, key: str, selected: str | None,
               kind: str | None = "run") -> str | None:
    """A select box over saved runs showing ``selected`` (else the newest), which it also
    selects; changing it selects the new run. None when there are no runs."""
    runs = data.runs()
    if selected is not None and selected not in set(runs["run_id"]):
        data.refresh_lists()  # saved by another session or process since the list was read
        runs = data.runs()
    if kind is not None and "kind" in runs:
        runs = runs[runs["kind"] == kind]
    if runs.empty:
        return None
    ids = runs["run_id"].tolist()
    labels = {r["run_id"]: run_label(r) for _, r in runs.iterrows()}
    # The selection (a deep link, another page) wins over the widget's previous value.
    st.session_state[key] = selected if selected in ids else ids[0]
    value = st.selectbox(label, ids, format_func=labels.get, key=key,
                         on_change=lambda: state.select_run(st.session_state[key]))
    if value != selected:
        state.select_run(value)
    return value


def agent_picker(label: str, key: str, run_id: str, default: int) -> int:
    """A number input over the run's agent ids (0 = the seed)."""
    info = data.run_info(run_id)
    top = int(info["iterations"]) if info else 0
    default = min(max(0, int(default)), top)
    # A changed default (another run, a deep link) must win over the widget's old value.
    if st.session_state.get(f"{key}_for") != (run_id, default):
        st.session_state[key] = default
        st.session_state[f"{key}_for"] = (run_id, default)
    return int(st.number_input(label, 0, top, key=key, help=f"0 (the seed) .. {top}"))


def iterations_input(label: str, key: str, default: int = 30) -> int:
    return int(st.number_input(label, 1, ITERATIONS_MAX, default, step=10, key=key,
                               help=f"1 .. {ITERATIONS_MAX:,}"))


class progress_bar:  # noqa: N801 - used like a function: progress_bar(text)(done, total)
    """An ``st.progress`` bar usable as a ``progress(done, total)`` callback; ``label``
    names the work for the next calls."""

    def __init__(self, text: str, value: float = 0.0) -> None:
        self.text = text
        self.bar = st.progress(value, text=text)

    def label(self, text: str) -> progress_bar:
        self.text = text
        return self

    def finish(self, text: str) -> None:
        self.bar.progress(1.0, text=text)

    def __call__(self, done: int, total: int) -> None:
        self.bar.progress(min(1.0, done / max(total, 1)), text=f"{self.text} {done}/{total}")


def download(container, label: str, make, file_name: str, mime: str, key: str) -> None:
    """A download button whose data ``make()`` builds only when clicked (Streamlit >= 1.52);
    older Streamlit refuses a callable, so the data is then built at once."""
    try:
        container.download_button(label, make, file_name=file_name, mime=mime, key=key)
    except StreamlitAPIException:
        container.download_button(label, make(), file_name=file_name, mime=mime, key=key)


@st.cache_data(max_entries=64, show_spinner=False)
def _spec(key: tuple, _build, _args: tuple) -> dict:
    # Schema validation costs more than building; the builders are validated by the tests.
    return _build(*_args).to_dict(validate=False)


def chart(key: tuple, build, *args) -> None:
    """Draw ``build(*args)`` (an Altair chart builder) whose spec is cached under ``key``:
    building an Altair chart costs a tenth of a second, a cached spec nothing. ``key`` must
    change whenever the data behind the chart does (a run's version, a dataset's key)."""
    st.vega_lite_chart(_spec((build.__module__, build.__name__, *key), build, args))


def references_for(ds: Dataset) -> dict[str, tuple[float, float, bool]]:
    """Reference lines of ``ds`` (majority class, seed agent, ceiling): name -> (train, test,
    exact); computed once per dataset in the background (see ``app.background``)."""
    return background.references(ds).result()
