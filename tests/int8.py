"""What a CPU without VNNI computes for an int8 ONNX model's products, emulated in numpy.

ONNX Runtime's u8 x s8 kernels on AVX2 (and AVX-512 without VNNI) multiply activations by weights in
adjacent pairs summed into a saturating int16 (vpmaddubsw) before widening; VNNI and ARM sum into
int32. So where a pair's sum leaves int16, the two kinds of CPU give different scores for one input.
"""

import numpy as np


def saturated_products(model_path, feed: dict[str, list[int]]) -> tuple[int, int]:
    """(outputs of the model's MatMulInteger nodes on `feed` that a pairwise int16 sum gets wrong, all outputs)."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type == "MatMulInteger" and n.input[1] in weights]
    for n in nodes:
        model.graph.output.append(onnx.ValueInfoProto(name=n.input[0]))  # the u8 activations each one reads
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {i.name: np.array([feed[i.name]], dtype=np.int64) for i in session.get_inputs()}
    wrong = total = 0
    for node, a in zip(nodes, session.run([n.input[0] for n in nodes], inputs)):
        a = a.reshape(-1, a.shape[-1]).astype(np.int64)
        w = weights[node.input[1]].astype(np.int64)
        if a.shape[1] % 2:
            a, w = np.pad(a, ((0, 0), (0, 1))), np.pad(w, ((0, 1), (0, 0)))
        products = a[:, :, None] * w[None, :, :]
        pairs = products[:, 0::2, :] + products[:, 1::2, :]
        wrong += int((np.clip(pairs, -32768, 32767).sum(1) != pairs.sum(1)).sum())
        total += a.shape[0] * w.shape[1]
    return wrong, total
