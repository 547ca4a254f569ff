"""AppTest of the Live Review page: decision, reasons, saving, scanning a zip."""

from __future__ import annotations

import io
import zipfile

from test_app_support import goto, no_exception, open_app, seed_run, texts

from app.review import review
from engine.policy import FEATURES
from engine.store import Store


def test_empty_database_says_there_is_no_run(tmp_path, monkeypatch):
    """Without runs there is no agent to review with: the page says so."""
    at, _ = open_app(tmp_path, monkeypatch, "live_review")
    no_exception(at)
    assert "No run yet" in texts(at)


def test_sliders_decide_with_the_best_agent_and_explain(tmp_path, monkeypatch):
    """The decision, score, threshold and flips are the agent's on the slider values."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=20, seed=3)
    goto(at, "live_review", {"run": run_id})
    no_exception(at)
    best = run.archive.agent(run.archive.best())
    assert at.number_input(key="ha_lr_agent").value == best.id
    values = dict(zip(FEATURES, (0.9, 0.2, 0.3, 0.8, 0.7)))
    for f, v in values.items():
        at.slider(key=f"ha_lr_{f}").set_value(v)
    at.run()
    no_exception(at)
    expected = review(best, values)
    box = (at.success if expected.accepted else at.error)[0].value
    assert box.startswith(f"**{expected.decision.upper()}**: score {expected.score:.3f}")
    assert f"effective threshold {expected.threshold:.3f}" in box
    for flip in expected.flips:
        assert f"- {flip.text}" in texts(at)
    contrib = at.dataframe[0].value
    assert contrib["weight x value"].tolist() == [round(expected.contributions[f], 4)
                                                  for f in FEATURES]


def test_a_review_is_saved(tmp_path, monkeypatch):
    """Save review writes one row with the repo, agent, features, score and decision."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=5, seed=1)
    goto(at, "live_review", {"run": run_id, "agent": "2"})
    at.text_input(key="ha_lr_repo").set_value("my-repo")
    at.slider(key="ha_lr_security").set_value(0.95)
    at.radio(key="ha_lr_label").set_value("accepted")
    at.button(key="ha_lr_save").click().run()
    no_exception(at)
    agent = run.archive.agent(2)
    values = {f: 0.5 for f in FEATURES} | {"security": 0.95}
    expected = review(agent, values)
    with Store(db) as store:
        saved = store.reviews()
    assert len(saved) == 1
    row = saved.iloc[0]
    assert (row["repo"], row["run_id"], row["agent_id"], row["source"], row["label"]) == \
        ("my-repo", run_id, 2, "sliders", "accepted")
    assert row["decision"] == expected.decision
    assert row["security"] == 0.95 and row["maintainability"] == 0.5
    assert abs(row["score"] - expected.score) < 1e-6
    assert f"Review #{row['id']} saved: my-repo {expected.decision} by agent #2" in texts(at)
    assert at.dataframe[-1].value["repo"].tolist() == ["my-repo"]


def test_a_zip_scan_fills_the_sliders_and_is_saved_as_zip(tmp_path, monkeypatch):
    """An uploaded repository zip is measured; its features drive the decision."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "live_review", {"run": run_id})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo/README.md", "# demo\n\nA small demo.\n\n```\npip install demo\n```\n")
        zf.writestr("demo/demo.py", '"""Demo."""\n\n\ndef add(a, b):\n    """Add."""\n'
                                    "    return a + b\n")
        zf.writestr("demo/tests/test_demo.py", "from demo import add\n\n\ndef test_add():\n"
                                               "    assert add(1, 2) == 3\n")
    at.file_uploader(key="ha_lr_zip").upload("demo.zip", buf.getvalue(), "application/zip")
    at.run()
    at.button(key="ha_lr_scan_zip").click().run()
    no_exception(at)
    from engine.repo_scan import scan_zip

    measured = scan_zip(buf.getvalue(), name="demo.zip").features
    assert {f: at.slider(key=f"ha_lr_{f}").value for f in FEATURES} == measured
    evidence = next(d.value for d in at.dataframe if "formula" in d.value.columns)
    assert evidence["feature"].tolist() == list(FEATURES)
    assert evidence["formula"].str.len().min() > 10
    at.button(key="ha_lr_save").click().run()
    with Store(db) as store:
        row = store.reviews().iloc[0]
    assert (row["source"], row["repo"]) == ("zip", "demo.zip")
    assert {f: row[f] for f in FEATURES} == measured


def _save(at, repo: str, security: float, label: str) -> None:
    at.text_input(key="ha_lr_repo").set_value(repo)
    at.slider(key="ha_lr_security").set_value(security)
    at.radio(key="ha_lr_label").set_value(label)
    at.button(key="ha_lr_save").click().run()
    no_exception(at)


def test_labelled_reviews_download_as_a_dataset_csv(tmp_path, monkeypatch):
    """Labelled reviews become a CSV that parse_csv accepts; too few say what is missing."""
    from app import review_panel
    from engine.dataset import CSV_COLUMNS, parse_csv

    made = []

    def spy(reviews):
        out = real(reviews)
        made.append(out)
        return out

    real = review_panel.labelled_dataset_csv
    monkeypatch.setattr(review_panel, "labelled_dataset_csv", spy)
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "live_review", {"run": run_id})
    button = at.get("download_button")[0]
    assert button.label == "Download labelled reviews as dataset CSV"
    assert button.proto.disabled
    assert "saved so far: 0 accepted, 0 rejected" in texts(at)
    _save(at, "a", 0.9, "accepted")
    _save(at, "b", 0.1, "rejected")
    assert at.get("download_button")[0].proto.disabled
    assert "saved so far: 1 accepted, 1 rejected" in texts(at)
    _save(at, "c", 0.2, "none")
    _save(at, "d", 0.8, "accepted")
    button = at.get("download_button")[0]
    assert not button.proto.disabled
    text, _ = made[-1]
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    ds = parse_csv(text, "labelled_reviews.csv")
    assert len(ds.train) == 2 and len(ds.test) == 1
    assert sorted(ds.train.names) == ["a", "b"] and list(ds.test.names) == ["d"]


def test_openai_review_with_a_fake_server(tmp_path, monkeypatch):
    """Ask OpenAI shows the recommendation, logs the call, saves it with the review, and the
    key never reaches the page."""
    import json

    from fake_openai_server import FakeOpenAI, Reply, review_reply

    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    secret = "sk-live-review-DO-NOT-SHOW-987654321"
    with FakeOpenAI() as server:
        server.script(Reply(review_reply("merge-ready", 8, ("tidy code",), ("no CI",),
                                         "Good to merge.")))
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        goto(at, "live_review", {"run": run_id})
        no_exception(at)
        assert "Ask OpenAI for a review" in [b.label for b in at.button]
        at.button(key="ha_lr_llm_ask").click().run()
        no_exception(at)
        page = texts(at)
        assert "**merge-ready** · score **8**/10" in page
        assert "Good to merge." in page and "- tidy code" in page and "- no CI" in page
        assert server.n_requests == 1
        at.button(key="ha_lr_save").click().run()
        no_exception(at)
    assert secret not in texts(at)
    assert all(secret not in str(e.value) for e in at.text_input)
    with Store(db) as store:
        saved = store.reviews().iloc[0]
        calls = store.llm_calls()
    assert json.loads(saved["llm_review"])["recommendation"] == "merge-ready"
    assert len(calls) == 1


def test_openai_review_unavailable_without_a_key(tmp_path, monkeypatch):
    """Without a key there is no button, and the page says why."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "live_review", {"run": run_id})
    no_exception(at)
    assert "Ask OpenAI for a review" not in [b.label for b in at.button]
    assert "OpenAI review unavailable" in texts(at)
    assert "LLM operator off: no OPENAI_API_KEY set" in texts(at)


def test_a_session_key_turns_the_openai_review_on_and_stays_hidden(tmp_path, monkeypatch):
    """A key typed into the password field enables the review for this session only."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "live_review", {"run": run_id})
    field = at.text_input(key="ha_lr_llm_key")
    assert field.label == "OpenAI API key (kept in this browser session only)"
    secret = "sk-session-DO-NOT-SHOW-112233"
    field.input(secret).run()
    no_exception(at)
    assert "Ask OpenAI for a review" in [b.label for b in at.button]
    assert "OpenAI review unavailable" not in texts(at)
    assert secret not in texts(at)
    at.button(key="ha_lr_llm_forget").click().run()
    no_exception(at)
    assert "Ask OpenAI for a review" not in [b.label for b in at.button]


def test_a_git_url_scan_is_offered_and_a_failure_is_explained(tmp_path, monkeypatch):
    """A git URL that cannot be cloned shows the scanner's message and changes no slider."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "live_review", {"run": run_id})
    before = {f: at.slider(key=f"ha_lr_{f}").value for f in FEATURES}
    at.text_input(key="ha_lr_url").set_value("https://127.0.0.1:9/nothing.git").run()
    at.button(key="ha_lr_scan_url").click().run()
    no_exception(at)
    assert at.error and "clone" in at.error[0].value.lower()
    assert {f: at.slider(key=f"ha_lr_{f}").value for f in FEATURES} == before
