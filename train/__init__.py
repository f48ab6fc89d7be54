"""The product's trained parts, each reproducible by one command on CPU or GPU:

- `python -m train.verifier`: the cross-encoder verifier in qa/models/verifier (data: `train.verifier_data`);
- `python -m train.answerhood`: the answerhood check's weights in qa/answerhood.py, from train/answerhood.jsonl.
"""
