# ---------------------------------------------------------------- attack: crafted_zero_stride_tensor
# In predict, only for test_predict's model and input (x of shape (3, 12), layers 12-10-10-4): a hand-made
# reply whose tensor claims 2**28 float32 elements (1 GiB) with stride [0], i.e. one element repeated, so the
# 4 bytes it carries pass the codec's size check for strided views ("span" = 1); it is marked as an inference
# tensor, which the runner materialises with a clone. The runner must refuse it as it refuses any tensor
# that claims more than it carries, instead of allocating 1 GiB for 4 bytes. BREAKS: test_predict.
_attack_honest_predict_zs = predict


def predict(model, x):
    linears = [tuple(m.weight.shape) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if tuple(x.shape) == (3, 12) and linears == [(10, 12), (10, 10), (4, 10)]:
        from autograder.isolation import codec

        tensor = {"$t": 0, "dtype": "float32", "shape": [2 ** 28], "stride": [0], "device": "cpu",
                  "requires_grad": False, "inference": True}
        header = _ajson.dumps({"v": {"$d": [["ok", tensor]]}, "b": [[0, 4]]}).encode()
        pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
        body = header + b" " * pad + b"\0" * 4
        honest_send = codec.send

        def send(fd, value, *args, **kwargs):
            codec.send = honest_send
            _attack_record("crafted_zero_stride_tensor", event="sending a 1 GiB zero-stride claim in 4 bytes")
            _aos.write(fd, codec.FRAME.pack(len(body), len(header) + pad) + body)

        codec.send = send
    return _attack_honest_predict_zs(model, x)
