"""What makes the first word come sooner: a build checked against the CPU, a short prompt, a warm start."""

from pathlib import Path

import pytest

from index import Source
from qa.cpu import CPUError, check_cpu
from qa.excerpts import select, tokens
from tests.stores import qa_main


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return path


def _needs(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "llama-cpu-flags"
    path.write_text(flags + "\n")
    return path


def test_a_build_for_avx512_is_refused_on_a_cpu_without_it(tmp_path):
    needs = _needs(tmp_path, "avx avx2 fma f16c bmi2 avx512f avx512bw avx512vl")
    cpu = _cpuinfo(tmp_path, "fpu sse sse2 avx avx2 fma f16c bmi1 bmi2")
    with pytest.raises(CPUError) as e:
        check_cpu(needs, cpu)
    message = str(e.value)
    assert "avx512bw avx512f avx512vl" in message and "make setup" in message and "QA_LLAMA_CPU=portable" in message


def test_a_build_runs_where_the_cpu_has_what_it_needs(tmp_path):
    needs = _needs(tmp_path, "avx avx2 fma f16c bmi2 avx512f")
    check_cpu(needs, _cpuinfo(tmp_path, "fpu avx avx2 fma f16c bmi2 avx512f avx512bw amx_tile"))
    check_cpu(tmp_path / "not-recorded", _cpuinfo(tmp_path, "fpu"))  # built with QA_LLAMA_CMAKE_ARGS: nothing to check
    check_cpu(needs, tmp_path / "no-cpuinfo")  # not Linux: the CPU cannot be read, so nothing is refused


def test_this_environment_was_built_for_this_cpu():
    """The flags set-up recorded are this CPU's: the check passes here (and runs before every model load)."""
    check_cpu()


def test_qa_model_says_plainly_that_the_build_does_not_fit_the_cpu(tmp_path, monkeypatch):
    import qa.cpu

    monkeypatch.setattr(qa.cpu, "flags_file", lambda: _needs(tmp_path, "avx2 avx512f"))
    monkeypatch.setattr(qa.cpu, "cpu_flags", lambda cpuinfo=None: {"avx", "avx2"})
    result = qa_main("model", store_dir=tmp_path / "store", collection="x")
    assert result.returncode == 2
    assert result.stderr.startswith("error: The llama.cpp in this environment was built for a CPU with avx512f")
    assert "Traceback" not in result.stderr


def _embed(texts):
    from qa.components import embedder
    from qa.settings import EmbedSettings

    return embedder(EmbedSettings(threads=2)).get_text_embedding_batch(texts)


def _passages(seed_text: str) -> list[Source]:
    paragraphs = [p for p in seed_text.split("\n") if len(p.split()) > 25]
    out, at = [], 0
    for i, p in enumerate(paragraphs[:6]):
        at = seed_text.index(p, at)
        out.append(Source(id=str(i), document="seed.txt", text=p, start=at, end=at + len(p), score=0.5 - i / 100))
    return out


@pytest.mark.parametrize(
    "question, holds",
    [
        ("What guarantees does Russia demand?", "neutral status of Ukraine"),
        ("What were Britain and France willing to send?", "peacekeeping force"),
        ("How many employees of a meat warehouse were killed?", "three employees"),
    ],
)
def test_the_short_prompt_keeps_the_sentence_that_holds_the_answer(seed_text, question, holds):
    passages = _passages(seed_text)
    whole = sum(tokens(p.text) for p in passages)
    excerpts = select(question, passages, _embed, budget=120)
    text = " ".join(e.text for e in excerpts)
    assert holds in text
    assert tokens(text) < whole / 2  # the point of it: most of the passages are left out
    for e in excerpts:  # every kept piece is the passage's own words, in the passage's order
        pieces = [e.passage.text[s:t] for s, t in e.spans]
        assert all(piece in e.passage.text for piece in pieces) and list(e.spans) == sorted(e.spans)


def test_the_best_sentence_is_kept_even_over_budget_and_budget_zero_keeps_everything(seed_text):
    passages = _passages(seed_text)
    tiny = select("What guarantees does Russia demand?", passages, _embed, budget=1)
    assert len(tiny) == 1 and len(tiny[0].spans) >= 1
    whole = select("What guarantees does Russia demand?", passages, _embed, budget=0)
    assert [e.text for e in whole] == [p.text.strip() for p in passages]
    assert len(whole) == len(passages)


def test_the_pipeline_prompts_with_the_excerpts_and_cites_the_whole_passages(seed_settings, fake_llm):
    import qa

    question = "What guarantees does Russia demand?"
    answer = qa.ask(question, settings=seed_settings, llm=fake_llm)
    prompt = fake_llm.history[-1]
    assert answer.context and all(c in prompt for c in answer.context)
    assert "neutral status of Ukraine" in prompt and not answer.refused
    assert sum(len(p.text) for p in answer.passages) > 2 * sum(len(c) for c in answer.context)
    assert any(p.text not in prompt for p in answer.passages)  # passages were cut...
    assert answer.sources[0].text in {p.text for p in answer.passages}  # ...but the sources shown are whole

    whole = seed_settings.with_(answer={"context_tokens": 0})
    qa.ask(question, settings=whole, llm=fake_llm)
    assert all(p.text.strip() in fake_llm.history[-1] for p in answer.passages)
