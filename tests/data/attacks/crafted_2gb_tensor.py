# ---------------------------------------------------------------- attack: crafted_2gb_tensor
# In predict, only for test_predict's model and input (x of shape (3, 12), layers 12-10-10-4): replace the
# worker's codec.send so that the reply is a hand-made frame whose header claims a float32 tensor of 2**29
# elements (2 GiB) while the frame carries 4 bytes. The runner must refuse it (and not allocate 2 GiB).
# BREAKS: test_predict.
_attack_honest_predict_2g = predict


def _attack_frame(tree, payload=b""):
    from autograder.isolation import codec

    header = _ajson.dumps({"v": tree, "b": [[0, len(payload)]]}).encode()
    pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
    body = header + b" " * pad + payload
    return codec.FRAME.pack(len(body), len(header) + pad) + body


def _attack_send_once(frame, attack):
    from autograder.isolation import codec

    honest_send = codec.send

    def send(fd, value, *args, **kwargs):
        codec.send = honest_send
        _attack_record(attack, event="sending a hand-made frame", bytes=len(frame))
        _aos.write(fd, frame)

    codec.send = send


def predict(model, x):
    linears = [tuple(m.weight.shape) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if tuple(x.shape) == (3, 12) and linears == [(10, 12), (10, 10), (4, 10)]:
        tensor = {"$t": 0, "dtype": "float32", "shape": [2 ** 29], "device": "cpu", "requires_grad": False, "inference": True}
        _attack_send_once(_attack_frame({"$d": [["ok", tensor]]}, b"\0" * 4), "crafted_2gb_tensor")
    return _attack_honest_predict_2g(model, x)
