"""Settings: grouped, read from QA_<GROUP>_<FIELD>, validated on every change, and the key of what is built from them."""

import pytest
from pydantic import ValidationError

from qa import UserError, get_settings
from qa.components import language_model
from qa.settings import LLMSettings, Settings
from tests.stores import one_line_error, qa_main


def test_environment_fills_the_groups(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_STORE_DIR", str(tmp_path))
    monkeypatch.setenv("QA_STORE_COLLECTION", "papers")
    monkeypatch.setenv("QA_ANSWER_TOP_K", "7")
    monkeypatch.setenv("QA_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    s = get_settings()
    assert (s.store.dir, s.store.collection, s.answer.top_k) == (tmp_path, "papers", 7)
    assert s.llm.mode == "openai"  # a server address alone selects the server backend
    assert get_settings(store={"collection": "other", "dir": None}).store == s.store.model_copy(update={"collection": "other"})


def test_a_changed_copy_is_validated():
    s = Settings()
    with pytest.raises(ValidationError):
        s.with_(answer={"top_k": 0})
    with pytest.raises(ValidationError):
        s.with_(llm={"mode": "openai"})  # a server backend without its address
    assert s.with_(llm={"base_url": "http://127.0.0.1:9/v1"}).llm.mode == "openai"
    assert s.answer.top_k == 4  # frozen: the original is unchanged


@pytest.mark.parametrize("old,new", [("QA_COLLECTION", "QA_STORE_COLLECTION"), ("QA_PORT", "QA_WEB_PORT")])
def test_a_setting_of_the_old_flat_layout_is_refused_with_its_new_name(monkeypatch, tmp_path, old, new):
    monkeypatch.setenv(old, "7861")
    with pytest.raises(UserError, match=f"{old} is now {new}"):
        get_settings()
    line = one_line_error(qa_main("collections", store_dir=tmp_path, collection="x"))
    assert new in line


def test_the_language_model_is_keyed_on_its_whole_group():
    """Any field of `settings.llm` changes the key, with no list of fields to keep up to date."""
    base = LLMSettings(base_url="http://127.0.0.1:9/v1", model="a")
    same = LLMSettings(base_url="http://127.0.0.1:9/v1", model="a")
    assert language_model(base) is language_model(same)
    for change in ({"model": "b"}, {"timeout": 5.0}, {"max_new_tokens": 64}, {"temperature": 0.5}):
        assert language_model(base.model_copy(update=change)) is not language_model(base), change
